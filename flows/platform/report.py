"""The monthly report as a scheduled deployment: the S3 indicators to Prefect and to files."""

from __future__ import annotations

import asyncio

from prefect import flow, get_run_logger
from prefect.artifacts import acreate_markdown_artifact, acreate_table_artifact

from app.domain import clock
from app.services.indicators import parse_month, previous_month
from app.services.report import markdown, report_title, write_report


def artifact_key(month: str, part: str, district: str | None = None) -> str:
    """One key per month (and part), so Prefect keeps every month's figures as history."""
    key = f"s3-{month}" + (f"-{district}" if district else "") + f"-{part}"
    return key.lower().replace("_", "-")


@flow(name="protect-monthly-report", persist_result=False, log_prints=False)
async def monthly_report_flow(month: str | None = None, district: str | None = None
                              ) -> dict[str, int]:
    """Publish a month's indicators as Prefect artifacts and write its HTML and CSV report.

    Args:
        month: "YYYY-MM" (default: the month before the current one, in Beijing time).
        district: one district's report only (default: the whole city).
    """
    now = clock.now()
    month = month or previous_month(now)
    parse_month(month)
    # Database work and file writes: a thread keeps the serving process's loop free.
    files = await asyncio.to_thread(write_report, month=month, now=now, district=district)
    ind = files.figures
    zh, en = report_title(month, district)
    await acreate_markdown_artifact(
        key=artifact_key(month, "report", district), markdown=markdown(ind, f"{zh} {en}"),
        description=f"S3 indicators for {month}: counts and durations only")
    for table in ind.indicators.values():
        await acreate_table_artifact(
            key=artifact_key(month, table.key, district), table=table.rows,
            description=f"{table.title_zh} {table.title_en}, {month}")
    counts = {key: len(t.rows) for key, t in ind.indicators.items()}
    get_run_logger().info("monthly report %s: rows per indicator %s; files %s, %s", month,
                          counts, files.html.name, files.csv.name)
    return counts
