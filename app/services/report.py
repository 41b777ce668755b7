"""The indicators as text, CSV, HTML and Markdown, and the monthly report's files.

Everything here renders `app.services.indicators.Indicators`, whatever indicators it holds: a new
indicator appears in every output without a change here.
"""

from __future__ import annotations

import csv
import html
import io
import os
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from app.adapters.store import db
from app.config.settings import get_settings
from app.domain.workdays import TZ
from app.services.indicators import Indicators, Scope, Table, compute


def figures(scope: Scope) -> Indicators:
    """The whole indicator set for `scope`, in one read-only unit of work."""
    with db() as session:
        return compute(session=session, scope=scope)


def _period(scope: Scope) -> str:
    since = scope.since.isoformat() if scope.since else "…"
    until = scope.until.isoformat() if scope.until else "…"
    return f"{since} – {until}"


def _as_of(scope: Scope) -> str:
    return scope.as_of.astimezone(TZ).isoformat(timespec="minutes")


def _cell(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


# --- text (the CLI) ----------------------------------------------------------------------------


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int, right: bool) -> str:
    gap = " " * max(0, width - _width(text))
    return gap + text if right else text + gap


def text_table(table: Table) -> str:
    """A table for a terminal: the Chinese name, then the figures under English headings."""
    cols = [c for c in table.columns if c.key != "name_en"]
    head = [c.en if c.key != "name_zh" else "name" for c in cols]
    body = [[_cell(r[c.key]) for c in cols] for r in table.rows]
    widths = [max([_width(h)] + [_width(row[i]) for row in body]) for i, h in enumerate(head)]
    numeric = [i > 1 for i in range(len(cols))]
    lines = [f"{table.title_zh} {table.title_en}",
             "  ".join(_pad(h, w, n) for h, w, n in zip(head, widths, numeric, strict=True))]
    lines += ["  ".join(_pad(v, w, n) for v, w, n in zip(row, widths, numeric, strict=True))
              for row in body]
    if not body:
        lines.append("(none)")
    return "\n".join(lines)


def _district(district: str | None, lang: str) -> str:
    """The district by name (app/config/vocabulary.py), or every district."""
    from app.config.vocabulary import district_name

    if district:
        return district_name(district, lang)
    return "全部" if lang == "zh" else "all"


def text(ind: Indicators) -> str:
    scope = ind.scope
    head = (f"period {_period(scope)}, district {_district(scope.district, 'zh')}, "
            f"as of {_as_of(scope)}")
    return "\n\n".join([head, *(text_table(t) for t in ind.indicators.values())])


# --- CSV: one long table, one figure a line ------------------------------------------------------

CSV_HEADER = ["since", "until", "district", "indicator", "key", "name_zh", "name_en", "measure",
              "value"]


def csv_text(ind: Indicators) -> str:
    """Every figure on its own line (a pivot table or a script can take it as it is)."""
    s = ind.scope
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for table in ind.indicators.values():
        measures = [c.key for c in table.columns if c.key not in ("key", "name_zh", "name_en")]
        for row in table.rows:
            for m in measures:
                writer.writerow([s.since or "", s.until or "", s.district or "", table.key,
                                 row["key"], row["name_zh"], row["name_en"], m,
                                 _cell(row[m])])
    return out.getvalue()


# --- Markdown (the Prefect artifact) ----------------------------------------------------------


def markdown(ind: Indicators, title: str) -> str:
    s = ind.scope
    parts = [f"# {title}", "",
             f"期间 Period: {_period(s)} · 区县 District: {_district(s.district, 'zh')} "
             f"{_district(s.district, 'en')} · "
             f"截至 As of: {_as_of(s)}", ""]
    for t in ind.indicators.values():
        parts += [f"## {t.title_zh} {t.title_en}", ""]
        parts.append("| " + " | ".join(f"{c.zh} {c.en}" for c in t.columns) + " |")
        parts.append("|" + "---|" * len(t.columns))
        parts += ["| " + " | ".join(_cell(r[c.key]) for c in t.columns) + " |" for r in t.rows]
        if not t.rows:
            parts.append("| " + " | ".join("—" for _ in t.columns) + " |")
        parts.append("")
    return "\n".join(parts)


# --- HTML (the report file for the leading group) -----------------------------------------------

CSS = """
body{font-family:"Noto Sans CJK SC","PingFang SC","Microsoft YaHei",sans-serif;margin:2em;
color:#222}
h1{font-size:1.5em;margin-bottom:.2em}h2{font-size:1.15em;margin-top:1.6em}
p.meta{color:#555}.en{color:#666;font-size:.85em;font-weight:normal}
table{border-collapse:collapse;margin:.5em 0}
th,td{border:1px solid #bbb;padding:.3em .6em;text-align:left}
th{background:#eef2f6;vertical-align:bottom}td.n{text-align:right;font-variant-numeric:tabular-nums}
tr:nth-child(even) td{background:#fafafa}
"""


def _th(zh: str, en: str) -> str:
    return f"<th>{html.escape(zh)}<br><span class=en>{html.escape(en)}</span></th>"


def html_report(ind: Indicators, *, title_zh: str, title_en: str, generated: datetime) -> str:
    """A self-contained page: inline CSS, no script, no external asset."""
    s = ind.scope
    esc = html.escape
    out = ["<!DOCTYPE html>", '<html lang="zh-CN"><head><meta charset="utf-8">',
           f"<title>{esc(title_zh)} {esc(title_en)}</title><style>{CSS}</style></head><body>",
           f"<h1>{esc(title_zh)} <span class=en>{esc(title_en)}</span></h1>",
           f"<p class=meta>期间 Period: {esc(_period(s))} · 区县 District: "
           f"{esc(_district(s.district, 'zh'))} {esc(_district(s.district, 'en'))} · "
           f"截至 As of: {esc(_as_of(s))} · 生成 Generated: "
           f"{esc(generated.astimezone(TZ).isoformat(timespec='minutes'))}</p>"]
    for t in ind.indicators.values():
        out.append(f"<h2>{esc(t.title_zh)} <span class=en>{esc(t.title_en)}</span></h2>")
        out.append("<table><thead><tr>" + "".join(_th(c.zh, c.en) for c in t.columns)
                   + "</tr></thead><tbody>")
        for r in t.rows:
            out.append("<tr>" + "".join(
                f"<td class=n>{esc(_cell(r[c.key]))}</td>" if isinstance(r[c.key], int | float)
                else f"<td>{esc(str(r[c.key]))}</td>" for c in t.columns) + "</tr>")
        if not t.rows:
            out.append(f'<tr><td colspan="{len(t.columns)}">无 none</td></tr>')
        out.append("</tbody></table>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"


# --- the monthly report's files -----------------------------------------------------------------


@dataclass
class ReportFiles:
    month: str
    html: Path
    csv: Path
    figures: Indicators


def reports_dir() -> Path:
    s = get_settings()
    return s.reports_dir or s.home / "reports"


def _write(path: Path, data: str, encoding: str = "utf-8") -> None:
    """Replace `path` whole: a crash leaves the old file or the new one, never half of one."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(data, encoding=encoding)
    os.replace(tmp, path)


def report_title(month: str, district: str | None) -> tuple[str, str]:
    zh = f"未成年人社会保护月度统计 {month}" + (f"（{_district(district, 'zh')}）"
                                          if district else "")
    en = f"Minor protection monthly indicators {month}" + (f" ({_district(district, 'en')})"
                                                          if district else "")
    return zh, en


def write_report(*, month: str, now: datetime, district: str | None = None,
                 folder: Path | None = None) -> ReportFiles:
    """Compute the month's figures and write report-YYYY-MM.html and .csv (replacing them)."""
    scope = Scope.month(month, now=now, district=district)
    ind = figures(scope)
    folder = folder or reports_dir()
    folder.mkdir(parents=True, exist_ok=True)
    name = f"report-{month}" + (f"-{district}" if district else "")
    zh, en = report_title(month, district)
    files = ReportFiles(month=month, html=folder / f"{name}.html", csv=folder / f"{name}.csv",
                        figures=ind)
    _write(files.html, html_report(ind, title_zh=zh, title_en=en, generated=now))
    # With a byte-order mark: spreadsheet programs then read the Chinese names as UTF-8.
    _write(files.csv, csv_text(ind), encoding="utf-8-sig")
    return files
