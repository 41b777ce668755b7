"""Screening lists (S2): import a community's list, find duplicates, build dossiers, propose.

`import_screening` takes the file's bytes, the community, the actor and `now`; the CLI calls it
and the HTTP API will. One import is one transaction: the batch row, every new child with its
guardian and dossier, the duplicate candidates, the risk proposals and the audit events commit
together or not at all, and the same file from the same community a second time finds its
batch and creates nothing. Rows that fail the `screening_row` suite go back to the community
in a rejects file (same format as the input, each row as sent plus its row number and reasons).
Personal data stays in the case store: nothing here logs a value or talks to Prefect, except
`confirm`, which starts procedures by case number and code. See docs/screening.md.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from pathlib import PurePath
from typing import Any

from sqlalchemy import insert, tuple_, update
from sqlmodel import Session, col, select

from app.adapters import audit
from app.domain.errors import Conflict, NotFound, ProtectError
from app.domain.idcard import age_on
from app.domain.screening import (
    COLUMNS,
    DISTRICT_NAMES,
    REASONS_COLUMN,
    REQUIRED_COLUMNS,
    ROW_COLUMN,
    SEX_NAMES,
    Refusal,
    category_codes,
    cell_text,
    formula_cell,
    header_field,
    identity_key,
    is_rejects_column,
    mask_id,
    merged_cell,
    norm_choice,
    norm_date,
    read_cell,
    risk_codes,
)
from app.domain.text import escape_formula
from app.domain.workdays import TZ
from app.services import cases, procedures
from models import (
    Agency,
    AuditEvent,
    Child,
    Dossier,
    DuplicateCandidate,
    Guardian,
    RiskProposal,
    ScreeningBatch,
)

SUITE = "screening_row"
# Rows per database round trip: well under SQLite's and PostgreSQL's limits on parameters.
CHUNK = 500
Progress = Callable[[str, int, int], None]


class ScreeningFileError(ProtectError):
    """The file cannot be read as a screening list; nothing was imported."""

    code = "invalid_screening_file"


# --- reading the file ---------------------------------------------------------------------------


@dataclass
class Sheet:
    """A screening list as read: its header and each data row as sent, with its row number."""

    file_name: str
    format: str  # csv|xlsx
    encoding: str | None  # csv only: utf-8-sig, utf-8 or gb18030
    headers: list[str]
    fields: list[str | None]  # per column: the field it holds, None for an ignored column
    rows: list[tuple[int, list[Any]]]  # (row number in the file, cells as read)
    # .xlsx only, by row number: the column indexes of formula cells, and the merged ranges
    # that cover the row (range as Excel writes it, first and last column index).
    formulas: dict[int, list[int]] = field(default_factory=dict)
    merged: dict[int, list[tuple[str, int, int]]] = field(default_factory=dict)


def _column_letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _decode(data: bytes, file_name: str) -> tuple[str, str]:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if encoding == "utf-8-sig" and not data.startswith(b"\xef\xbb\xbf"):
            encoding = "utf-8"
        return text, encoding
    raise ScreeningFileError(f"{file_name}: not a CSV file in UTF-8 or GB18030; save it from "
                             "Excel as 'CSV UTF-8' or as .xlsx")


def _csv_rows(data: bytes, file_name: str) -> tuple[str, list[list[Any]]]:
    text, encoding = _decode(data, file_name)
    try:
        return encoding, [list(r) for r in csv.reader(io.StringIO(text, newline=""))]
    except csv.Error as exc:
        raise ScreeningFileError(f"{file_name}: not a readable CSV file ({exc})") from None


def _xlsx_rows(data: bytes, file_name: str) -> tuple[list[list[Any]], dict[int, list[int]],
                                                     dict[int, list[tuple[str, int, int]]]]:
    """The first sheet's rows (row 1 first), its formula cells and merged ranges by row."""
    import zipfile

    from openpyxl import load_workbook

    try:
        # Not read-only: a read-only sheet does not tell its merged cells. Not data_only: a
        # formula is seen (and refused) instead of its cached result being taken as typed.
        book = load_workbook(io.BytesIO(data), data_only=False)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError):
        raise ScreeningFileError(f"{file_name}: not a readable .xlsx workbook") from None
    try:
        sheet = book.worksheets[0]
        rows: list[list[Any]] = []
        formulas: dict[int, list[int]] = {}
        for number, cells in enumerate(sheet.iter_rows(), start=1):
            values = []
            for index, cell in enumerate(cells):
                value = cell.value
                if cell.data_type == "f":
                    formulas.setdefault(number, []).append(index)
                    # An array formula is an object; the rejects file shows its text.
                    value = value if isinstance(value, str) else getattr(value, "text", "=")
                values.append(value)
            rows.append(values)
        merged: dict[int, list[tuple[str, int, int]]] = {}
        for cells in sheet.merged_cells.ranges:
            for number in range(cells.min_row, min(cells.max_row, len(rows)) + 1):
                merged.setdefault(number, []).append(
                    (cells.coord, cells.min_col - 1, cells.max_col - 1))
        return rows, formulas, merged
    finally:
        book.close()


def read_sheet(data: bytes, file_name: str) -> Sheet:
    """Read a screening list (CSV or .xlsx) and check its header row.

    Raises:
        ScreeningFileError: the file is empty, unreadable, or its columns are not those of
            the template (an unknown, repeated or missing column), naming the column.
    """
    suffix = PurePath(file_name).suffix.lower()
    if suffix in (".xls", ".et", ".numbers"):
        raise ScreeningFileError(f"{file_name}: {suffix} files are not read; save the list as "
                                 ".xlsx or CSV")
    formulas: dict[int, list[int]] = {}
    merged: dict[int, list[tuple[str, int, int]]] = {}
    if data.startswith(b"PK\x03\x04"):
        fmt, encoding = "xlsx", None
        table, formulas, merged = _xlsx_rows(data, file_name)
    elif suffix in ("", ".csv", ".txt"):
        fmt = "csv"
        encoding, table = _csv_rows(data, file_name)
    else:
        raise ScreeningFileError(f"{file_name}: a screening list is a .csv or .xlsx file")
    numbered = list(enumerate(table, start=1))
    while numbered and all(cell_text(v) is None for v in numbered[0][1]):
        numbered.pop(0)  # blank lines above the header
    if not numbered:
        raise ScreeningFileError(f"{file_name}: the file is empty; the first row names the "
                                 "columns (see docs/examples/screening-template.csv)")
    header_row = numbered[0][1]
    headers = [cell_text(h) or "" for h in header_row]
    body = [(number, cells) for number, cells in numbered[1:]
            if any(cell_text(v) is not None for v in cells)]
    fields: list[str | None] = []
    for index, header in enumerate(headers):
        letter = _column_letter(index)
        if not header:
            if any(index < len(cells) and cell_text(cells[index]) is not None
                   for _, cells in body):
                raise ScreeningFileError(f"{file_name}: column {letter} has values but no "
                                         "header")
            fields.append(None)
            continue
        name = header_field(header)
        if name is None and not is_rejects_column(header):
            expected = ", ".join(f"{zh} ({en})" for zh, en in COLUMNS.values())
            raise ScreeningFileError(f"{file_name}: column {letter} '{header}' is not a "
                                     f"screening column; the columns are: {expected}")
        if name is not None and name in fields:
            raise ScreeningFileError(f"{file_name}: column {letter} '{header}' repeats the "
                                     f"column {COLUMNS[name][0]} ({name})")
        fields.append(name)
    missing = [f"{COLUMNS[n][0]} ({n})" for n in REQUIRED_COLUMNS if n not in fields]
    if missing:
        raise ScreeningFileError(f"{file_name}: missing column(s) {', '.join(missing)} in the "
                                 "first row")
    return Sheet(file_name, fmt, encoding, headers, fields, body, formulas, merged)


# --- checking the rows --------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """One reason a row was rejected: its field and code, and the suite's messages."""

    field: str
    code: str
    message: str
    message_zh: str


def _record(sheet: Sheet, number: int, cells: list[Any],
            as_of: date) -> tuple[dict[str, Any], list[Problem]]:
    """A row's record for the suite, and what is refused before the suite sees it: merged
    and formula cells (.xlsx), formula-like or control characters in text (one per field)."""
    problems: list[Problem] = []
    extra = [i for i in range(len(sheet.fields), len(cells)) if cell_text(cells[i]) is not None]
    if extra:
        problems.append(Problem("row", "row.extra_cells",
                                f"The row has values beyond the last column "
                                f"({_column_letter(extra[0])}).",
                                f"该行在最后一列之后还有内容（{_column_letter(extra[0])}列）。"))
    refused: set[str] = set()

    def refuse(at: int | str, refusal: Refusal) -> None:
        """Refuse a field (by name, or by column index: an ignored column is the row's)."""
        if isinstance(at, str):
            name = at
        else:
            name = (sheet.fields[at] if at < len(sheet.fields) else None) or "row"
        if name not in refused:
            refused.add(name)
            code, message, message_zh = refusal
            problems.append(Problem(name, f"{name}.{code}", message, message_zh))

    for cells_ref, first, last in sheet.merged.get(number, []):
        for index in range(first, min(last + 1, len(sheet.fields))):
            refuse(index, merged_cell(cells_ref))
        if last >= len(sheet.fields):
            refuse("row", merged_cell(cells_ref))
    for index in sheet.formulas.get(number, []):
        refuse(index, formula_cell(_column_letter(index)))
    raw: dict[str, str | None] = {}
    for index, name in enumerate(sheet.fields):
        if name is not None:
            raw[name], refusal = read_cell(name, cells[index] if index < len(cells) else None)
            if refusal is not None:
                refuse(name, refusal)
    record: dict[str, Any] = {**{name: None for name in COLUMNS}, **raw}
    record["sex"] = norm_choice(record["sex"], SEX_NAMES)
    record["district"] = norm_choice(record["district"], DISTRICT_NAMES)
    record["birth_date"] = norm_date(record["birth_date"])
    record["as_of"] = as_of.isoformat()
    return record, problems


def check_sheet(sheet: Sheet, as_of: date) -> tuple[list[dict[str, Any]], list[list[Problem]]]:
    """Every row's record and its problems ([] for a row that passes), in file order."""
    from expectations.runner import validate_records

    records, problems = [], []
    for number, cells in sheet.rows:
        record, row_problems = _record(sheet, number, cells, as_of)
        records.append(record)
        problems.append(row_problems)
    for row_problems, errors in zip(problems, validate_records(SUITE, records), strict=True):
        # A field refused before the suite (a merged or formula cell, a formula-like text) has
        # that reason only, not also the suite's (an empty merged cell is not "required").
        refused = {p.field for p in row_problems}
        row_problems.extend(Problem(e.field, e.code, e.message, e.message_zh) for e in errors
                            if e.field not in refused)
    return records, problems


def _reasons(problems: list[Problem]) -> str:
    def label(name: str) -> str:
        return COLUMNS[name][0] if name in COLUMNS else "整行"

    return "；".join(f"{label(p.field)}：{p.message_zh}（{p.code}）" for p in problems)


def rejects_file(sheet: Sheet, rejected: Sequence[tuple[int, list[Any], list[Problem]]]) -> bytes:
    """The rejected rows as sent, with their row number and reasons, in the input's format.

    A corrected rejects file can be sent again as it is: the importer ignores the two columns
    it adds. A rejects file that is itself re-imported keeps the first file's row numbers.
    """
    data_headers = [h for h, f in zip(sheet.headers, sheet.fields, strict=True)
                    if not is_rejects_column(h)]
    keep = [i for i, h in enumerate(sheet.headers) if not is_rejects_column(h)]
    row_at = next((i for i, h in enumerate(sheet.headers)
                   if h.strip() in (ROW_COLUMN[0], ROW_COLUMN[1])), None)
    header = [ROW_COLUMN[0], *data_headers, REASONS_COLUMN[0]]
    lines: list[list[Any]] = [header]
    for number, cells, problems in rejected:
        original = cells[row_at] if row_at is not None and row_at < len(cells) else None
        values = [cells[i] if i < len(cells) else None for i in keep]
        lines.append([original or number, *values, _reasons(problems)])
    # Nothing goes back as a live formula (OWASP, CSV injection): every cell that a spreadsheet
    # would read as a formula gets a leading apostrophe, the cells as sent included.
    lines = [[escape_formula(v) for v in line] for line in lines]
    if sheet.format == "xlsx":
        from openpyxl import Workbook
        from openpyxl.cell import WriteOnlyCell
        from openpyxl.cell.cell import Cell

        book = Workbook(write_only=True)
        ws = book.create_sheet("rejected")

        def text_cell(value: str) -> Cell:
            cell = WriteOnlyCell(ws, value=value)
            cell.data_type = "s"  # a text cell, never a formula
            return cell

        for line in lines:
            ws.append([text_cell(v) if isinstance(v, str) else v for v in line])
        out = io.BytesIO()
        book.save(out)
        return out.getvalue()
    text = io.StringIO(newline="")
    writer = csv.writer(text, lineterminator="\r\n")
    writer.writerows([["" if v is None else v for v in line] for line in lines])
    return text.getvalue().encode(sheet.encoding or "utf-8-sig")


# --- importing ----------------------------------------------------------------------------------


@dataclass
class ImportResult:
    """What an import did: counts, ids and codes only (safe to print and to log)."""

    batch: int
    community: str
    file: str
    format: str
    rows: int
    accepted: int
    rejected: int
    duplicates: int
    created: int
    unchanged: int
    proposals: int = 0
    already_imported: bool = False
    rejected_rows: list[dict[str, Any]] = field(default_factory=list)  # row, codes
    rejects: bytes | None = field(default=None, repr=False)  # the rejects file, if any

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("rejects")
        return data


@dataclass
class _Row:
    number: int
    name: str
    sex: str
    birth_date: date
    id_number: str | None
    district: str
    categories: list[str]
    risks: list[str]
    address: str | None
    guardian_name: str | None
    guardian_relation: str | None
    guardian_phone: str | None
    key: str = ""

    def child(self) -> dict[str, Any]:
        return {"name": self.name, "sex": self.sex, "birth_date": self.birth_date,
                "id_number": self.id_number, "has_hukou": False, "hukou_district": None,
                "district": self.district, "address": self.address,
                "categories": self.categories}

    def record(self) -> dict[str, Any]:
        return {**self.child(), "birth_date": self.birth_date.isoformat(), "risks": self.risks,
                "guardian_name": self.guardian_name, "guardian_relation": self.guardian_relation,
                "guardian_phone": self.guardian_phone, "row": self.number}

    @classmethod
    def from_record(cls, number: int, r: dict[str, Any]) -> _Row:
        row = cls(number=number, name=r["name"].strip(), sex=r["sex"],
                  birth_date=date.fromisoformat(r["birth_date"]), id_number=r["id_number"],
                  district=r["district"], categories=category_codes(r["categories"]) or [],
                  risks=risk_codes(r.get("risks")) or [], address=r.get("address"),
                  guardian_name=r.get("guardian_name"),
                  guardian_relation=r.get("guardian_relation"),
                  guardian_phone=r.get("guardian_phone"))
        row.key = identity_key(id_number=row.id_number, name=row.name,
                               birth_date=row.birth_date, district=row.district)
        return row


def _chunks(items: Sequence[Any], size: int = CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _community(session: Session, code: str) -> Agency:
    agency = session.get(Agency, code)
    if agency is None or agency.level != "community":
        raise NotFound(f"no community {code!r}; community codes as in `protect agency list`, "
                       "e.g. community:xingqing-fenghuang")
    return agency


def _existing(session: Session, rows: list[_Row]) -> tuple[dict[str, int], dict[tuple, int]]:
    """Children already on file with a row's ID number, or its name, birth date and district."""
    by_id: dict[str, int] = {}
    by_identity: dict[tuple[str, date, str], int] = {}
    ids = sorted({r.id_number for r in rows if r.id_number})
    identities = sorted({(r.name, r.birth_date, r.district) for r in rows})
    for chunk in _chunks(ids):
        for child_id, number in session.exec(select(Child.id, Child.id_number).where(
                col(Child.id_number).in_(chunk)).order_by(col(Child.id))):
            by_id.setdefault(number, child_id)
    for chunk in _chunks(identities):
        stmt = select(Child.id, Child.name, Child.birth_date, Child.district).where(
            tuple_(col(Child.birth_date), col(Child.name), col(Child.district)).in_(
                [(b, n, d) for n, b, d in chunk])).order_by(col(Child.id))
        for child_id, name, birth, district in session.exec(stmt):
            by_identity.setdefault((name, birth, district), child_id)
    return by_id, by_identity


def _known_keys(session: Session, community: str, child_ids: set[int]) -> set[tuple[int, str]]:
    """(child, row key) pairs this community already sent: its dossiers and its candidates."""
    known: set[tuple[int, str]] = set()
    for chunk in _chunks(sorted(child_ids)):
        known.update(session.exec(select(Dossier.child_id, Dossier.row_key).where(
            col(Dossier.child_id).in_(chunk), Dossier.community == community)).all())
        known.update(session.exec(select(DuplicateCandidate.match_child_id,
                                         DuplicateCandidate.row_key).where(
            col(DuplicateCandidate.match_child_id).in_(chunk))).all())
    return known


def _insert_ids(session: Session, model: Any, values: list[dict[str, Any]]) -> list[int]:
    """Insert many rows in one statement per chunk and return their ids in order."""
    ids: list[int] = []
    for chunk in _chunks(values):
        ids += list(session.scalars(
            insert(model).returning(model.id, sort_by_parameter_order=True), list(chunk)))
    return ids


def _insert(session: Session, model: Any, values: list[dict[str, Any]]) -> None:
    for chunk in _chunks(values):
        session.execute(insert(model), list(chunk))


def _propose(rules: list[Any], dossier_id: int, child_id: int, categories: list[str],
             risks: list[str], age: int, now: datetime) -> list[dict[str, Any]]:
    from app.config.risk import assess

    return [{"dossier_id": dossier_id, "child_id": child_id, "code": p.code, "rule": p.rule,
             "status": "proposed", "proposed_at": now}
            for p in assess(rules, categories=categories, risks=risks, age=age)]


def import_screening(*, session: Session, data: bytes, file_name: str, community: str,
                     actor: str, now: datetime, progress: Progress | None = None) -> ImportResult:
    """Import a community's screening list, in the caller's transaction.

    Rows that pass the suite become children with dossiers and risk proposals, or duplicate
    candidates when they may be a child already on file (or earlier in the same file), or
    nothing when this community sent the same row before. The same file twice returns the
    first import's batch with `already_imported` and writes nothing.

    Raises:
        ScreeningFileError: the file cannot be read or its columns are wrong (nothing written).
        NotFound: `community` is not a community's agency code.
    """
    from app.config.risk import current_rules

    report = progress or (lambda phase, done, total: None)
    rules = current_rules()
    _community(session, community)
    name = PurePath(file_name).name
    file_hash = hashlib.sha256(data).hexdigest()
    sheet = read_sheet(data, name)
    as_of = now.astimezone(TZ).date()
    total = len(sheet.rows)
    report("checking", 0, total)
    records, problems = check_sheet(sheet, as_of)
    report("checking", total, total)
    rejected = [(number, cells, p) for (number, cells), p in zip(sheet.rows, problems,
                                                                 strict=True) if p]
    rejected_rows = [{"row": number, "codes": [p.code for p in ps]}
                     for number, _, ps in rejected]
    rejects = rejects_file(sheet, rejected) if rejected else None

    previous = session.exec(select(ScreeningBatch).where(
        ScreeningBatch.community == community, ScreeningBatch.file_hash == file_hash)).first()
    if previous is not None:
        return ImportResult(batch=int(previous.id or 0), community=community, file=name,
                            format=sheet.format, rows=previous.rows, accepted=previous.accepted,
                            rejected=previous.rejected, duplicates=previous.duplicates,
                            created=previous.created, unchanged=previous.unchanged,
                            proposals=previous.proposals, already_imported=True,
                            rejected_rows=rejected_rows, rejects=rejects)

    rows = [_Row.from_record(number, record) for (number, _), record, p
            in zip(sheet.rows, records, problems, strict=True) if not p]
    by_id, by_identity = _existing(session, rows)
    known = _known_keys(session, community, set(by_id.values()) | set(by_identity.values()))

    # In file order: a row is on file already, a possible duplicate, or new. A match found
    # earlier in the same file is ("new", index) until its child is inserted.
    new: list[_Row] = []
    candidates: list[tuple[_Row, str, Any]] = []  # (row, reason, child id or ("new", index))
    unchanged = 0
    file_ids: dict[str, int] = {}
    file_identities: dict[tuple[str, date, str], int] = {}
    for row in rows:
        identity = (row.name, row.birth_date, row.district)
        match: Any = None
        reason = ""
        if row.id_number and row.id_number in by_id:
            match, reason = by_id[row.id_number], "id_number"
        elif row.id_number and row.id_number in file_ids:
            match, reason = ("new", file_ids[row.id_number]), "id_number"
        elif identity in by_identity:
            match, reason = by_identity[identity], "name_birth_district"
        elif identity in file_identities:
            match, reason = ("new", file_identities[identity]), "name_birth_district"
        if match is None:
            if row.id_number:
                file_ids[row.id_number] = len(new)
            file_identities[identity] = len(new)
            new.append(row)
            continue
        same = (new[match[1]].key == row.key if isinstance(match, tuple)
                else (match, row.key) in known)
        if same:
            unchanged += 1  # this community sent this row before: nothing new
        else:
            candidates.append((row, reason, match))
            if not isinstance(match, tuple):
                known.add((match, row.key))
    # Two rows that are both possible duplicates of the same child, with the same key, are
    # one candidate: the second is the same row sent twice.
    seen: set[tuple[Any, str]] = set()
    unique_candidates = []
    for row, reason, match in candidates:
        if (match, row.key) in seen:
            unchanged += 1
            continue
        seen.add((match, row.key))
        unique_candidates.append((row, reason, match))
    candidates = unique_candidates

    batch = ScreeningBatch(community=community, file_hash=file_hash, file_name=name[:255],
                           file_format=sheet.format, rows=total, accepted=total - len(rejected),
                           rejected=len(rejected), duplicates=len(candidates), created=len(new),
                           unchanged=unchanged, imported_at=now, actor=actor)
    session.add(batch)
    session.flush()
    batch_id = int(batch.id or 0)

    report("importing", 0, len(new))
    child_ids = _insert_ids(session, Child, [r.child() for r in new])
    report("importing", len(new) // 2, len(new))
    _insert(session, Guardian, [
        {"child_id": cid, "name": r.guardian_name, "relation": r.guardian_relation or "监护人",
         "phone": r.guardian_phone, "address": None, "id_number": None}
        for r, cid in zip(new, child_ids, strict=True) if r.guardian_name])
    dossier_ids = _insert_ids(session, Dossier, [
        {"child_id": cid, "community": community, "batch_id": batch_id, "row_key": r.key,
         "categories": r.categories, "risks": r.risks, "created_at": now, "updated_at": now}
        for r, cid in zip(new, child_ids, strict=True)])
    proposals = [p for r, cid, did in zip(new, child_ids, dossier_ids, strict=True)
                 for p in _propose(rules, did, cid, r.categories, r.risks,
                                   age_on(r.birth_date, as_of), now)]
    _insert(session, RiskProposal, proposals)
    batch.proposals = len(proposals)
    session.add(batch)
    _insert(session, DuplicateCandidate, [
        {"batch_id": batch_id, "row_no": r.number, "community": community, "reason": reason,
         "match_child_id": child_ids[m[1]] if isinstance(m, tuple) else m, "row_key": r.key,
         "record": r.record(), "status": "pending", "created_at": now}
        for r, reason, m in candidates])
    _insert(session, AuditEvent, [
        {"at": now, "actor": actor, "action": "dossier.created", "case_id": None,
         "procedure_run_id": None, "task_id": None,
         "detail": {"dossier_id": did, "child_id": cid, "batch_id": batch_id}}
        for cid, did in zip(child_ids, dossier_ids, strict=True)])
    audit.record(session=session, at=now, actor=actor, action="screening.imported",
                 batch_id=batch_id, community=community, rows=total, accepted=batch.accepted,
                 rejected=batch.rejected, duplicates=batch.duplicates, created=batch.created,
                 unchanged=batch.unchanged, proposals=len(proposals))
    report("importing", len(new), len(new))
    return ImportResult(batch=batch_id, community=community, file=name, format=sheet.format,
                        rows=total, accepted=batch.accepted, rejected=batch.rejected,
                        duplicates=batch.duplicates, created=batch.created,
                        unchanged=batch.unchanged, proposals=len(proposals),
                        rejected_rows=rejected_rows, rejects=rejects)


# --- duplicates -----------------------------------------------------------------------------


def _child_view(child: Child) -> dict[str, Any]:
    return {"child_id": child.id, "name": child.name, "sex": child.sex,
            "birth_date": child.birth_date.isoformat(), "id_number": mask_id(child.id_number),
            "district": child.district, "categories": list(child.categories)}


def list_duplicates(*, session: Session, actor: str, now: datetime,
                    status: str = "pending") -> list[dict[str, Any]]:
    """The duplicate candidates with both sides, for a person to compare (a read of personal
    data: audited). ID numbers are masked to their region and last four characters."""
    rows = session.exec(select(DuplicateCandidate, Child).join(
        Child, col(Child.id) == DuplicateCandidate.match_child_id).where(
        DuplicateCandidate.status == status).order_by(col(DuplicateCandidate.id))).all()
    out = []
    for cand, child in rows:
        rec = cand.record
        out.append({
            "id": cand.id, "batch": cand.batch_id, "row": cand.row_no,
            "community": cand.community, "reason": cand.reason, "status": cand.status,
            "row_data": {"name": rec["name"], "sex": rec["sex"], "birth_date": rec["birth_date"],
                         "id_number": mask_id(rec["id_number"]), "district": rec["district"],
                         "categories": rec["categories"]},
            "existing": _child_view(child),
        })
    audit.record(session=session, at=now, actor=actor, action="screening.duplicates.read",
                 status=status, candidate_ids=[r["id"] for r in out])
    return out


def _dossier_for(session: Session, *, child: Child, row: dict[str, Any], community: str,
                 batch_id: int, row_key: str, now: datetime) -> tuple[Dossier, int]:
    """The child's dossier with the row's categories and risks; new proposals it brings."""
    from app.config.risk import current_rules

    dossier = session.exec(select(Dossier).where(Dossier.child_id == child.id)).first()
    if dossier is None:
        dossier = Dossier(child_id=int(child.id or 0), community=community, batch_id=batch_id,
                          row_key=row_key, categories=[], risks=[], created_at=now,
                          updated_at=now)
    dossier.categories = list(dict.fromkeys([*dossier.categories, *row["categories"]]))
    dossier.risks = list(dict.fromkeys([*dossier.risks, *row["risks"]]))
    dossier.updated_at = now
    session.add(dossier)
    session.flush()
    have = set(session.exec(select(RiskProposal.code).where(
        RiskProposal.dossier_id == dossier.id)).all())
    fresh = [p for p in _propose(current_rules(), int(dossier.id or 0), int(child.id or 0),
                                 dossier.categories, dossier.risks,
                                 age_on(child.birth_date, now.astimezone(TZ).date()), now)
             if p["code"] not in have]
    _insert(session, RiskProposal, fresh)
    return dossier, len(fresh)


def resolve_duplicate(*, session: Session, candidate_id: int, merge: bool, actor: str,
                      now: datetime) -> dict[str, Any]:
    """A person's decision on a duplicate candidate, audited.

    Merge: the row is the child on file; the child gains the row's categories (and an ID
    number or address it lacked, and its guardian), and its dossier the row's categories and
    risks. Keep apart: the row is another child, recorded with its own dossier; refused for an
    ID-number match, since two children cannot share one number.
    """
    cand = session.get(DuplicateCandidate, candidate_id)
    if cand is None:
        raise NotFound(f"no duplicate candidate {candidate_id}")
    if cand.status != "pending":
        raise Conflict(f"duplicate candidate {candidate_id} is already {cand.status}"
                       + (f" (by {cand.resolved_by})" if cand.resolved_by else ""))
    if not merge and cand.reason == "id_number":
        raise Conflict(f"duplicate candidate {candidate_id} has the ID number of child "
                       f"{cand.match_child_id}: two children cannot share one; merge it, or "
                       "have the community correct the number and send the row again")
    row = cand.record
    status = "merged" if merge else "kept_apart"
    done = session.exec(  # type: ignore[call-overload]
        update(DuplicateCandidate)
        .where(col(DuplicateCandidate.id) == candidate_id,
               col(DuplicateCandidate.status) == "pending")
        .values(status=status, resolved_at=now, resolved_by=actor))
    if done.rowcount != 1:
        raise Conflict(f"duplicate candidate {candidate_id} was resolved by someone else just now")
    if merge:
        child = session.get(Child, cand.match_child_id)
        assert child is not None
        child.categories = list(dict.fromkeys([*child.categories, *row["categories"]]))
        child.id_number = child.id_number or row["id_number"]
        child.address = child.address or row["address"]
        session.add(child)
    else:
        fields = {k: v for k, v in row.items() if k in Child.model_fields and k != "id"}
        child = Child(**{**fields, "birth_date": date.fromisoformat(row["birth_date"])})
        session.add(child)
        session.flush()
    if row.get("guardian_name"):
        names = set(session.exec(select(Guardian.name).where(
            Guardian.child_id == child.id)).all())
        if row["guardian_name"] not in names:
            session.add(Guardian(child_id=int(child.id or 0), name=row["guardian_name"],
                                 relation=row.get("guardian_relation") or "监护人",
                                 phone=row.get("guardian_phone")))
    dossier, proposed = _dossier_for(session, child=child, row=row, community=cand.community,
                                     batch_id=cand.batch_id, row_key=cand.row_key, now=now)
    session.exec(  # type: ignore[call-overload]
        update(DuplicateCandidate).where(col(DuplicateCandidate.id) == candidate_id)
        .values(result_child_id=child.id))
    audit.record(session=session, at=now, actor=actor, action=f"screening.duplicate.{status}",
                 candidate_id=candidate_id, batch_id=cand.batch_id, reason=cand.reason,
                 match_child_id=cand.match_child_id, child_id=child.id, dossier_id=dossier.id)
    return {"candidate": candidate_id, "status": status, "child_id": child.id,
            "dossier": dossier.id, "new_proposals": proposed}


# --- proposals and their confirmation ------------------------------------------------------------


def list_proposals(*, session: Session, dossier_id: int | None = None,
                   status: str | None = "proposed") -> list[dict[str, Any]]:
    """Risk proposals (ids and codes only), by dossier."""
    stmt = select(RiskProposal, Dossier).join(Dossier, col(Dossier.id) == RiskProposal.dossier_id)
    if dossier_id is not None:
        stmt = stmt.where(RiskProposal.dossier_id == dossier_id)
    if status is not None:
        stmt = stmt.where(RiskProposal.status == status)
    return [{"id": p.id, "dossier": p.dossier_id, "child_id": p.child_id, "code": p.code,
             "rule": p.rule, "status": p.status, "community": d.community,
             "categories": list(d.categories), "procedure_run": p.procedure_run_id}
            for p, d in session.exec(stmt.order_by(col(RiskProposal.dossier_id),
                                                   col(RiskProposal.id)))]


def confirm(*, session: Session, dossier_id: int, codes: Sequence[str], actor: str,
            now: datetime) -> list[dict[str, Any]]:
    """A coordinator confirms proposals of a dossier (all proposed ones when `codes` is empty).

    Opens a case for the child if it has no open one, then starts each procedure through
    `procedures.start_procedure`, keyed by the proposal, so confirming twice starts nothing new.
    Refuses a code that is not a procedure or was not proposed for this dossier.
    """
    from flows.catalog import base_procedures

    dossier = session.get(Dossier, dossier_id)
    if dossier is None:
        raise NotFound(f"no dossier {dossier_id}")
    proposals = {p.code: p for p in session.exec(select(RiskProposal).where(
        RiskProposal.dossier_id == dossier_id)).all()}
    wanted = [c.upper() for c in codes] or [c for c, p in proposals.items()
                                            if p.status == "proposed"]
    known = base_procedures()
    for code in wanted:
        if code not in known:
            raise NotFound(f"{code} is not a procedure; codes as in `protect procedures`")
        if code not in proposals:
            listed = ", ".join(sorted(proposals)) or "none"
            raise Conflict(f"{code} was not proposed for dossier {dossier_id} (proposed: "
                           f"{listed}); a procedure the rules did not propose is started with "
                           "`protect start`")
    if not wanted:
        return []
    case = cases.open_case_for_child(session=session, child_id=dossier.child_id,
                                     source="screening", actor=actor, now=now,
                                     case_id=dossier.case_id)
    dossier.case_id = case.id
    session.add(dossier)
    out = []
    for code in wanted:
        proposal = proposals[code]
        run = procedures.start_procedure(
            session=session, case_id=int(case.id or 0), code=code, actor=actor, now=now,
            params={"community": dossier.community}, start_key=f"screening:{proposal.id}")
        if proposal.status != "confirmed":
            proposal.status, proposal.decided_at, proposal.decided_by = "confirmed", now, actor
            proposal.procedure_run_id = run.id
            session.add(proposal)
            audit.record(session=session, at=now, actor=actor,
                         action="screening.proposal.confirmed", case_id=case.id,
                         procedure_run_id=run.id, dossier_id=dossier_id, proposal_id=proposal.id,
                         code=code, rule=proposal.rule)
        out.append({"proposal": proposal.id, "code": code, "case": case.case_no,
                    "procedure_run": run.id})
    return out
