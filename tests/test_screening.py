"""Screening lists (S2) end to end: CSV and xlsx, rejects, duplicates, dossiers, proposals."""

from __future__ import annotations

import csv
import io
import json
import random
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func
from sqlmodel import select

from app.adapters.store import db
from app.config.risk import assess, check
from app.config.rules_file import RulesFileError
from app.domain import clock
from app.domain.errors import Conflict, NotFound
from app.domain.idcard import age_on, check_digit
from app.domain.screening import CATEGORIES, RISKS
from app.services.screening import ScreeningFileError, confirm, import_screening, resolve_duplicate
from models import (
    AuditEvent,
    Case,
    Child,
    Dossier,
    DuplicateCandidate,
    Guardian,
    RiskProposal,
    ScreeningBatch,
)
from tests.conftest import LOGS
from tests.helpers import PERSONAL, open_task, protect, protect_json, runs_of

FENGHUANG = "community:xingqing-fenghuang"
ZHONGSHAN = "community:xingqing-zhongshan"
HEADER = ["姓名", "性别", "出生日期", "身份证号", "区县", "困境类别", "住址", "风险情况",
          "监护人姓名", "监护人关系", "监护人电话"]


class People:
    """Fresh, recognisable children for one test: unique names, ID numbers in a region of
    their own (so no other test's child matches one by accident)."""

    def __init__(self) -> None:
        self.tag = f"{random.randrange(10**6):06d}"
        self.region = f"6{random.randrange(10**5):05d}"
        self.n = 0

    def row(self, **changes: Any) -> list[Any]:
        i = self.n
        self.n += 1
        birth = date(2010, 1, 1) + timedelta(days=i % 2500)
        first17 = f"{self.region}{birth:%Y%m%d}{i // 2500:03d}"
        values = {"姓名": f"筛查童{self.tag}{i}", "性别": "女" if i % 2 else "男",
                  "出生日期": birth.isoformat(), "身份证号": first17 + check_digit(first17),
                  "区县": "兴庆区", "困境类别": "农村留守儿童", "住址": f"测试村{self.tag}-{i}",
                  "风险情况": "", "监护人姓名": f"监护{self.tag}{i}", "监护人关系": "祖母",
                  "监护人电话": f"139{random.randrange(10**8):08d}"}
        values.update(changes)
        if i < 50 or i % 100 == 0:  # the guard's sample: every row takes the same path, and
            # the whole-suite scan (test_personal_data) reads every file for every value
            PERSONAL.extend(str(values[k]) for k in ("姓名", "身份证号", "住址", "监护人姓名",
                                                       "监护人电话") if values[k])
        return [values[h] for h in HEADER]


def csv_bytes(rows: list[list[Any]], encoding: str = "utf-8-sig",
              header: list[str] = HEADER) -> bytes:
    out = io.StringIO(newline="")
    csv.writer(out, lineterminator="\r\n").writerows([header, *rows])
    return out.getvalue().encode(encoding)


def xlsx_bytes(rows: list[list[Any]], header: list[str] = HEADER) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    for line in [header, *rows]:
        sheet.append(line)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def read_csv(data: bytes, encoding: str = "utf-8-sig") -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode(encoding), newline="")))


def do_import(data: bytes, name: str = "list.csv", community: str = FENGHUANG) -> Any:
    with db() as session:
        return import_screening(session=session, data=data, file_name=name,
                                community=community, actor="test", now=clock.now())


def count(model: Any, *where: Any) -> int:
    with db() as session:
        return int(session.exec(select(func.count()).select_from(model).where(*where)).one())


def dossier_of(id_number: str) -> tuple[Child, Dossier, list[str]]:
    with db() as session:
        child = session.exec(select(Child).where(Child.id_number == id_number)).one()
        dossier = session.exec(select(Dossier).where(Dossier.child_id == child.id)).one()
        codes = sorted(session.exec(select(RiskProposal.code).where(
            RiskProposal.dossier_id == dossier.id)).all())
        return child, dossier, codes


# --- reading, checking, importing ---------------------------------------------------------------


def test_a_gb18030_csv_builds_children_dossiers_guardians_and_risk_proposals(store) -> None:
    people = People()
    good = people.row(困境类别="农村留守儿童、贫困家庭", 风险情况="心理问题", 出生日期="2015/3/8",
                      身份证号="")
    good2 = people.row(困境类别="disabled;poor_family", 性别="M", 区县="jinfeng")
    result = do_import(csv_bytes([good, good2], encoding="gb18030"))
    assert (result.rows, result.accepted, result.rejected, result.created) == (2, 2, 0, 2)
    assert result.format == "csv" and result.rejects is None
    child, dossier, codes = dossier_of(good2[3])
    assert (child.sex, child.district) == ("M", "jinfeng")
    assert child.categories == dossier.categories == ["disabled", "poor_family"]
    assert dossier.community == FENGHUANG and dossier.batch_id == result.batch
    # risk.toml: living assistance, disabled schooling, education aid; vocational from 15.
    age = age_on(child.birth_date, clock.now().date())
    assert codes == sorted({"R6", "E2", "E4"} | ({"W4"} if age >= 15 else set()))
    with db() as session:
        first = session.exec(select(Child).where(Child.name == good[0])).one()
        assert first.birth_date == date(2015, 3, 8) and first.id_number is None
        guardian = session.exec(select(Guardian).where(Guardian.child_id == first.id)).one()
        assert (guardian.name, guardian.relation) == (good[8], "祖母")
        d = session.exec(select(Dossier).where(Dossier.child_id == first.id)).one()
        assert d.risks == ["mental_distress"]
        assert {"E6", "P2", "P1", "R6", "E4"} <= set(session.exec(select(RiskProposal.code).where(
            RiskProposal.dossier_id == d.id)).all())


def test_an_xlsx_list_is_read_and_its_rejects_come_back_as_xlsx_then_import_once_corrected(
        store) -> None:
    from openpyxl import load_workbook

    people = People()
    good = people.row()
    good[2] = date.fromisoformat(good[2])  # an Excel date cell
    good[10] = int(good[10])  # a phone typed as a number
    bad_id = people.row()
    bad_id[3] = bad_id[3][:17] + ("0" if bad_id[3][17] != "0" else "1")
    bad_district = people.row(区县="海淀区")
    result = do_import(xlsx_bytes([good, bad_id, bad_district]), name="list.xlsx")
    assert (result.format, result.accepted, result.rejected, result.created) == ("xlsx", 1, 2, 1)
    assert [r["row"] for r in result.rejected_rows] == [3, 4]
    assert result.rejected_rows[0]["codes"] == ["id_number.check_digit"]
    assert result.rejected_rows[1]["codes"] == ["district.invalid"]
    child, _, _ = dossier_of(good[3])
    assert child.birth_date == good[2]

    sheet = load_workbook(io.BytesIO(result.rejects)).worksheets[0]
    lines = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert lines[0] == ["行号", *HEADER, "问题"]
    assert [line[0] for line in lines[1:]] == [3, 4]
    assert lines[1][1:-1] == [v or None for v in bad_id]  # as sent (Excel keeps no "")
    assert "身份证号" in lines[1][-1]
    assert "id_number.check_digit" in lines[1][-1]
    assert "区县" in lines[2][-1] and "district.invalid" in lines[2][-1]

    # The community corrects the two rows in the rejects file and sends it back as it is.
    lines[1][4] = lines[1][4][:17] + check_digit(lines[1][4][:17])
    lines[2][5] = "兴庆区"
    again = do_import(xlsx_bytes([line for line in lines[1:]], header=lines[0]),
                      name="list.rejects.xlsx")
    assert (again.accepted, again.rejected, again.created, again.duplicates) == (2, 0, 2, 0)
    assert dossier_of(lines[1][4])[0].name == bad_id[0]


def test_a_corrected_csv_rejects_file_keeps_the_first_row_numbers(store, tmp_path) -> None:
    people = People()
    rows = [people.row(), people.row(性别="未知"), people.row(困境类别="外星儿童")]
    path = tmp_path / "fenghuang.csv"
    path.write_bytes(csv_bytes(rows))
    out = protect_json("import", str(path), "--community", FENGHUANG)
    assert (out["accepted"], out["rejected"]) == (1, 2)
    rejects = Path(out["rejects_file"])
    assert rejects == tmp_path / "fenghuang.rejects.csv"
    lines = read_csv(rejects.read_bytes())
    assert lines[0] == ["行号", *HEADER, "问题"]
    assert [line[0] for line in lines[1:]] == ["3", "4"]
    assert "sex.invalid" in lines[1][-1] and "categories.unknown" in lines[2][-1]
    lines[1][2], lines[2][6] = "女", "留守儿童"
    rejects.write_bytes(csv_bytes(lines[1:], header=lines[0]))
    out2 = protect_json("import", str(rejects), "--community", FENGHUANG)
    assert (out2["accepted"], out2["rejected"], out2["created"]) == (2, 0, 2)
    assert out2["rejects_file"] is None


def test_ten_thousand_rows_with_good_bad_and_duplicate_rows_import_in_seconds(quiet_store,
                                                                               tmp_path) -> None:
    people = People()
    # 300 children another community screened first: in the big list they are duplicates.
    elsewhere = [people.row() for _ in range(300)]
    first = do_import(csv_bytes(elsewhere), community=ZHONGSHAN)
    assert first.created == 300

    good = [people.row() for _ in range(8000)]
    bad = []
    for i in range(1000):
        row = people.row()
        if i < 300:
            row[3] = row[3][:17] + ("0" if row[3][17] != "0" else "1")
        elif i < 600:
            row[4] = "朝阳区"
        elif i < 800:
            row[0] = ""
        else:
            row[5] = "不存在的类别"
        bad.append(row)
    same_id = [[f"{g[0]}改", *g[1:]] for g in good[:300]]  # same ID number, name spelt otherwise
    same_identity = [[*g[:3], "", *g[4:]] for g in good[300:500]]  # no ID, same name/birth/district
    repeated = [list(g) for g in good[500:700]]  # the same row twice: nothing new
    rows = good + bad + same_id + same_identity + repeated + [list(e) for e in elsewhere]
    random.Random(5).shuffle(rows)
    assert len(rows) == 10_000
    path = tmp_path / "big.csv"
    path.write_bytes(csv_bytes(rows))

    children_before = count(Child)
    started = time.monotonic()
    out = protect_json("import", str(path), "--community", FENGHUANG)
    seconds = time.monotonic() - started
    assert {k: out[k] for k in ("rows", "accepted", "rejected", "duplicates", "created",
                                "unchanged")} == {
        "rows": 10_000, "accepted": 9_000, "rejected": 1_000, "duplicates": 800,
        "created": 8_000, "unchanged": 200}
    assert seconds < 60, f"10,000 rows took {seconds:.1f} s"
    assert count(Child) == children_before + 8_000
    assert count(Dossier, Dossier.batch_id == out["batch"]) == 8_000
    with db() as session:
        reasons = dict(session.exec(select(DuplicateCandidate.reason, func.count()).where(
            DuplicateCandidate.batch_id == out["batch"]).group_by(
            DuplicateCandidate.reason)).all())
    assert reasons == {"id_number": 600, "name_birth_district": 200}
    rejects = read_csv(Path(out["rejects_file"]).read_bytes())
    assert len(rejects) == 1 + 1_000
    codes = {r["codes"][0] for r in out["rejected_rows"]}
    assert codes == {"id_number.check_digit", "district.invalid", "name.required",
                     "categories.unknown"}

    # The same file again: the same batch, and nothing new anywhere.
    tables = (Child, Dossier, DuplicateCandidate, RiskProposal, ScreeningBatch, AuditEvent)
    before = [count(t) for t in tables]
    again = protect_json("import", str(path), "--community", FENGHUANG)
    assert again["already_imported"] is True and again["batch"] == out["batch"]
    assert again["duplicates"] == 800 and again["rejected"] == 1_000
    assert [count(t) for t in tables] == before


def test_the_same_rows_in_a_new_file_from_the_same_community_create_nothing(quiet_store) -> None:
    people = People()
    rows = [people.row() for _ in range(5)]
    do_import(csv_bytes(rows))
    before = (count(Child), count(DuplicateCandidate))
    again = do_import(csv_bytes(rows[::-1]), name="again.csv")  # another file, same rows
    assert (again.already_imported, again.created, again.duplicates, again.unchanged) == (
        False, 0, 0, 5)
    assert (count(Child), count(DuplicateCandidate)) == before


# --- file errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("header", "message"), [
    ([*HEADER, "备注"], "column L '备注' is not a screening column"),
    ([h for h in HEADER if h != "出生日期"], "missing column(s) 出生日期 (birth_date)"),
    ([*HEADER[:5], "district", *HEADER[5:]], "column F 'district' repeats the column 区县"),
])
def test_a_file_with_wrong_columns_is_refused_whole(store, header, message) -> None:
    people = People()
    before = count(ScreeningBatch)
    with pytest.raises(ScreeningFileError) as refused:
        do_import(csv_bytes([people.row()[:len(header)]], header=header), name="cols.csv")
    assert message in str(refused.value) and "cols.csv" in str(refused.value)
    assert count(ScreeningBatch) == before


def test_english_headers_are_accepted(store) -> None:
    people = People()
    english = ["name", "sex", "birth_date", "id_number", "district", "categories", "address",
               "risks", "guardian_name", "guardian_relation", "guardian_phone"]
    assert do_import(csv_bytes([people.row()], header=english)).created == 1


def test_the_command_exits_2_naming_the_file_and_column_and_imports_nothing(store,
                                                                            tmp_path) -> None:
    people = People()
    wrong = tmp_path / "wrong.csv"
    wrong.write_bytes(csv_bytes([people.row() + ["x"]], header=[*HEADER, "备注"]))
    out = protect("import", str(wrong), "--community", FENGHUANG, check=False)
    assert out.returncode == 2 and "wrong.csv: column L '备注'" in out.stderr
    machine = protect("import", str(wrong), "--community", FENGHUANG, "--json", check=False)
    assert machine.returncode == 2
    assert json.loads(machine.stdout)["error"] == "invalid_screening_file"
    good = tmp_path / "good.csv"
    good.write_bytes(csv_bytes([people.row()]))
    unknown = protect("import", str(good), "--community", "community:nowhere", check=False)
    assert unknown.returncode == 2 and "no community 'community:nowhere'" in unknown.stderr
    missing = protect("import", str(tmp_path / "none.csv"), "--community", FENGHUANG,
                      check=False)
    assert missing.returncode == 2 and "none.csv" in missing.stderr
    old = tmp_path / "old.xls"
    old.write_bytes(b"\xd0\xcf\x11\xe0")
    xls = protect("import", str(old), "--community", FENGHUANG, check=False)
    assert xls.returncode == 2 and "save the list as .xlsx or CSV" in xls.stderr


# --- what a cell may hold: no formula goes in or comes back -------------------------------------


def test_text_beginning_like_a_formula_is_refused_and_the_csv_rejects_file_escapes_every_formula(
        store) -> None:
    from app.domain.text import looks_like_formula

    people = People()
    link = '=HYPERLINK("http://example.invalid/x","点我")'
    rows = [people.row(姓名=link), people.row(住址="@SUM(A1)"), people.row(监护人姓名="+1+1"),
            people.row(监护人关系="-2"), people.row(姓名=f"\t筛查童{people.tag}"),
            # Not text: a choice, a date and a phone are judged by their own checks.
            people.row(区县="=1+2", 监护人电话="+86 139 0000 0000"),
            people.row(出生日期="-2015-03-08"), people.row(住址=" =1+2")]
    result = do_import(csv_bytes(rows))
    assert (result.accepted, result.rejected) == (0, 8)
    assert [r["codes"][0] for r in result.rejected_rows] == [
        "name.formula", "address.formula", "guardian_name.formula",
        "guardian_relation.formula", "name.formula", "district.invalid",
        "birth_date.not_a_date", "address.formula"]
    assert count(Child, Child.name == link) == 0

    lines = read_csv(result.rejects)
    assert not [cell for line in lines for cell in line if looks_like_formula(cell)]
    assert lines[1][1] == "'" + link
    assert lines[2][7] == "'@SUM(A1)"
    assert lines[3][9] == "'+1+1" and lines[4][10] == "'-2"
    assert lines[5][1] == f"'\t筛查童{people.tag}"
    assert (lines[6][5], lines[6][11]) == ("'=1+2", "'+86 139 0000 0000")
    assert lines[7][3] == "'-2015-03-08"
    assert "姓名：公式内容" in lines[1][-1] and "name.formula" in lines[1][-1]

    # Sent back as it is with the district corrected: the apostrophe before the phone goes.
    lines[6][5] = "兴庆区"
    again = do_import(csv_bytes([lines[6]], header=lines[0]), name="list.rejects.csv")
    assert (again.accepted, again.rejected) == (1, 0)
    child, _, _ = dossier_of(rows[5][3])
    with db() as session:
        guardian = session.exec(select(Guardian).where(Guardian.child_id == child.id)).one()
    assert guardian.phone == "+86 139 0000 0000"


def test_an_xlsx_formula_or_merged_cell_is_refused_with_its_own_reason_and_no_formula_comes_back(
        store) -> None:
    from openpyxl import Workbook, load_workbook

    people = People()
    rows = [people.row() for _ in range(7)]
    book = Workbook()
    sheet = book.active
    for line in [HEADER, *rows]:
        sheet.append(line)
    sheet["C2"] = "=DATE(2015,3,8)"  # a formula cell: its value is not what was typed
    sheet.merge_cells("A3:A4")  # one name for two rows: row 4's name cell is empty
    sheet["G5"] = "=1+2"
    sheet["G5"].data_type = "s"  # a text cell that begins like a formula
    sheet["H6"] = "@SUM(A1)"  # risks: a text cell too
    sheet["J7"] = -2  # a number in a text column (监护人关系) is the text "-2" there
    out = io.BytesIO()
    book.save(out)

    result = do_import(out.getvalue(), name="list.xlsx")
    assert result.rejected_rows == [
        {"row": 2, "codes": ["birth_date.formula_cell"]},
        {"row": 3, "codes": ["name.merged_cell"]},
        {"row": 4, "codes": ["name.merged_cell"]},
        {"row": 5, "codes": ["address.formula"]},
        {"row": 6, "codes": ["risks.formula"]},
        {"row": 7, "codes": ["guardian_relation.formula"]},
    ]
    assert (result.accepted, result.created) == (1, 1)

    back = load_workbook(io.BytesIO(result.rejects)).worksheets[0]
    cells = [cell for line in back.iter_rows() for cell in line]
    assert [c.coordinate for c in cells if c.data_type == "f"] == []
    assert {c.data_type for c in cells if isinstance(c.value, str)} == {"s"}
    lines = [[c.value for c in line] for line in back.iter_rows()]
    assert [line[0] for line in lines[1:]] == [2, 3, 4, 5, 6, 7]
    assert lines[1][3] == "'=DATE(2015,3,8)" and "公式单元格（C列）" in lines[1][-1]
    assert lines[2][1] == rows[1][0] and lines[3][1] is None
    assert "合并单元格（A3:A4）" in lines[3][-1] and "姓名为必填项" not in lines[3][-1]
    assert lines[4][7] == "'=1+2" and lines[5][8] == "'@SUM(A1)"
    assert "公式内容" in lines[4][-1] and "公式内容" in lines[5][-1]
    assert lines[6][10] == -2  # a number cell: nothing a spreadsheet would run


def test_invisible_characters_are_stripped_and_control_characters_refused(store) -> None:
    people = People()
    pasted = people.row(住址="一号楼\r\n二单元")  # two lines in one cell (CR LF)
    pasted[0] = f"{pasted[0][:3]}\u200b{pasted[0][3:]}\u200e"  # zero-width space, LTR mark
    bell = people.row()
    bell[0] += "\x07"
    broken = people.row()
    broken[8] = f"{broken[8][:2]}\n{broken[8][2:]}"  # a line break inside a name
    result = do_import(csv_bytes([pasted, bell, broken]))
    assert (result.accepted, result.rejected) == (1, 2)
    assert result.rejected_rows == [{"row": 3, "codes": ["name.control_character"]},
                                    {"row": 4, "codes": ["guardian_name.control_character"]}]
    child, _, _ = dossier_of(pasted[3])
    assert child.name == pasted[0].replace("\u200b", "").replace("\u200e", "")
    assert child.address == "一号楼\n二单元"
    assert "控制字符" in read_csv(result.rejects)[1][-1]


def test_an_id_number_is_read_as_intake_keeps_it(store) -> None:
    from app.services.cases import open_case

    people = People()
    first17 = next(f for f in (f"{people.region}20150308{n:03d}" for n in range(1000))
                   if check_digit(f) == "X")
    with db() as session:
        case = open_case(session=session, actor="test", now=clock.now(), data={
            "child": {"name": f"筛查童{people.tag}", "sex": "M", "birth_date": "2015-03-08",
                      "id_number": f"{first17}x", "district": "xingqing"},
            "intake_date": clock.now().date().isoformat()})
        on_file = session.get(Child, case.child_id)
        assert on_file.id_number == f"{first17}X"
        child_id = on_file.id
    # The same number in a list, typed with a lower-case x and a zero-width space pasted in.
    row = people.row(姓名=f"筛查童{people.tag}", 出生日期="2015-03-08",
                     身份证号=f" {first17[:6]}\u200b{first17[6:]}x ")
    result = do_import(csv_bytes([row]))
    assert (result.accepted, result.duplicates) == (1, 1)
    with db() as session:
        candidate = session.exec(select(DuplicateCandidate).where(
            DuplicateCandidate.batch_id == result.batch)).one()
    assert (candidate.reason, candidate.match_child_id) == ("id_number", child_id)
    assert candidate.record["id_number"] == f"{first17}X"


def test_row_numbers_count_the_blank_lines_above_the_header() -> None:
    from app.services.screening import read_sheet

    people = People()
    sheet = read_sheet(b"\r\n\r\n" + csv_bytes([people.row()], encoding="utf-8"), "blank.csv")
    assert [number for number, _ in sheet.rows] == [4]


# --- duplicates ----------------------------------------------------------------------------------


def test_duplicates_are_listed_then_merged_or_kept_apart_and_every_resolution_is_audited(
        store) -> None:
    people = People()
    on_file = [people.row(困境类别="贫困家庭") for _ in range(3)]
    do_import(csv_bytes(on_file), community=ZHONGSHAN)
    same_id = [f"{on_file[0][0]}改", *on_file[0][1:5], "残疾儿童", *on_file[0][6:]]
    same_person = [*on_file[1][:3], "", *on_file[1][4:]]
    result = do_import(csv_bytes([same_id, same_person]))
    assert (result.duplicates, result.created) == (2, 0)

    listed = protect_json("screening", "duplicates")
    mine = {d["row"]: d for d in listed if d["batch"] == result.batch}
    assert {r: d["reason"] for r, d in mine.items()} == {2: "id_number",
                                                         3: "name_birth_district"}
    assert mine[2]["existing"]["name"] == on_file[0][0]
    assert mine[2]["row_data"]["id_number"].endswith(on_file[0][3][-4:])
    assert on_file[0][3] not in json.dumps(listed)  # ID numbers are masked in the list

    by_id, by_name = mine[2]["id"], mine[3]["id"]
    with db() as session, pytest.raises(Conflict, match="cannot share"):
        resolve_duplicate(session=session, candidate_id=by_id, merge=False, actor="test",
                          now=clock.now())
    merged = protect_json("screening", "resolve", str(by_id), "--merge")
    assert merged["status"] == "merged"
    child, dossier, codes = dossier_of(on_file[0][3])
    assert child.id == merged["child_id"] and child.name == on_file[0][0]  # not renamed
    assert set(child.categories) == set(dossier.categories) == {"poor_family", "disabled"}
    assert "E2" in codes  # the merged category brings its proposals

    apart = protect_json("screening", "resolve", str(by_name), "--keep-apart")
    assert apart["status"] == "kept_apart" and apart["child_id"] != mine[3]["existing"][
        "child_id"]
    again = protect("screening", "resolve", str(by_name), "--merge", check=False)
    assert again.returncode == 2 and "already kept_apart" in again.stderr
    with db() as session:
        actions = session.exec(select(AuditEvent.action).where(
            AuditEvent.action.in_(["screening.duplicate.merged",  # type: ignore[attr-defined]
                                   "screening.duplicate.kept_apart"]))).all()
    assert {"screening.duplicate.merged", "screening.duplicate.kept_apart"} <= set(actions)
    assert by_id not in {d["id"] for d in protect_json("screening", "duplicates")}


# --- risk rules and confirmation ----------------------------------------------------------------


def test_the_risk_rules_file_is_checked_with_every_problem_named() -> None:
    text = """
[[rules]]
name = "a"
categories = ["orphan", "left_behind"]
propose = ["R9"]

[[rules]]
name = "b"
risks = ["out_of_school"]
min_age = 12
max_age = 6
propose = ["E3"]
"""
    with pytest.raises(RulesFileError) as refused:
        check(text, "bad.toml")
    problems = {p.key: p.message for p in refused.value.problems}
    assert "unknown category 'orphan'" in problems["rules[0](a).categories"]
    assert "unknown procedure 'R9'" in problems["rules[0](a).propose"]
    assert "min_age 12 is above max_age 6" in problems["rules[1](b)"]
    assert "bad.toml" in str(refused.value)


def test_the_shipped_rules_and_the_screening_codes_agree_with_the_case_store() -> None:
    from typing import get_args

    from app.config.risk import current_rules
    from app.domain.screening import Category

    assert set(CATEGORIES) == set(get_args(Category))
    rules = current_rules()
    assert {p.code for p in assess(rules, categories=["left_behind"], risks=[], age=8)} == {
        "E6", "P2"}
    assert assess(rules, categories=["poor_family"], risks=[], age=1)[0].code == "R6"
    assert "E4" not in {p.code for p in assess(rules, categories=["poor_family"], risks=[],
                                               age=1)}
    assert {r for rule in rules for r in rule.risks} <= set(RISKS)


def test_confirm_refuses_a_procedure_that_was_not_proposed(store) -> None:
    people = People()
    row = people.row(困境类别="农村留守儿童")
    do_import(csv_bytes([row]))
    _, dossier, codes = dossier_of(row[3])
    assert codes == ["E6", "P2"]
    for code, error, text in (("R9", NotFound, "R9 is not a procedure"),
                              ("M1", Conflict, "M1 was not proposed for dossier")):
        with db() as session, pytest.raises(error, match=text):
            confirm(session=session, dossier_id=int(dossier.id), codes=[code], actor="test",
                    now=clock.now())
    assert count(Case, Case.child_id == dossier.child_id) == 0


@pytest.mark.flows
def test_confirming_a_proposal_opens_a_case_and_starts_the_procedure(system, tmp_path) -> None:
    people = People()
    row = people.row(困境类别="贫困家庭", 风险情况="心理问题")
    path = tmp_path / "risk.csv"
    path.write_bytes(csv_bytes([row]))
    protect_json("import", str(path), "--community", FENGHUANG)
    _, dossier, codes = dossier_of(row[3])
    assert "P1" in codes
    started = protect_json("screening", "confirm", str(dossier.id), "P1")
    assert [s["code"] for s in started] == ["P1"]
    case_no = started[0]["case"]
    referral = open_task(case_no, "p1.referral")
    assert referral.owner == "center"
    again = protect_json("screening", "confirm", str(dossier.id), "P1")  # nothing new
    assert again[0]["procedure_run"] == started[0]["procedure_run"]
    assert len(runs_of(case_no, "P1")) == 1
    with db() as session:
        assert session.get(Dossier, dossier.id).case_id is not None
        proposal = session.exec(select(RiskProposal).where(
            RiskProposal.dossier_id == dossier.id, RiskProposal.code == "P1")).one()
        assert proposal.status == "confirmed"
    assert {p["code"] for p in protect_json("screening", "proposals", "--dossier",
                                            str(dossier.id))} == set(codes) - {"P1"}


def test_an_import_logs_and_prints_no_name_or_id_number(store, tmp_path) -> None:
    people = People()
    rows = [people.row(), people.row(区县="海淀区")]
    path = tmp_path / "quiet.csv"
    path.write_bytes(csv_bytes(rows))
    out = protect("import", str(path), "--community", FENGHUANG, "--json")
    human = protect("import", str(path), "--community", FENGHUANG)
    do_import(csv_bytes([people.row()]), name="inprocess.csv")
    log = (LOGS / "test-process.log").read_text(encoding="utf-8")
    for value in (rows[0][0], rows[0][3], rows[1][0], rows[1][3], rows[0][6]):
        for text in (out.stdout, out.stderr, human.stdout, human.stderr, log):
            assert value not in text
