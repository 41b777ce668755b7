"""What every benchmark shares: the machine's description and its section of BENCHMARKS.md."""

from __future__ import annotations

import os
import platform
import re
import socket
import statistics
import time
from pathlib import Path

DOC = Path(__file__).parent.parent / "docs" / "BENCHMARKS.md"


def free_port() -> int:
    """A port nobody listens on now: benchmarks run beside a running `make run`."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def machine() -> str:
    """Cores, memory and versions, for the record."""
    import prefect
    import sqlalchemy

    mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (f"{os.cpu_count()} cores, {mem_gib:.0f} GiB, Python {platform.python_version()}, "
            f"Prefect {prefect.__version__}, SQLAlchemy {sqlalchemy.__version__}")


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def median(values: list[float]) -> float:
    return statistics.median(values)


def sized(name: str, *, full: bool) -> str:
    """The section a run writes: the full sizes' figures and the default sizes' are kept apart."""
    return name if full else f"{name}-default"


def sized_command(module: str, *, full: bool) -> str:
    return f"python -m bench.{module}" + (" --full" if full else "")


def sized_title(title: str, *, full: bool) -> str:
    return f"## {title}" + ("" if full else " (default sizes)")


def write_section(name: str, body: str, *, cmd: str) -> None:
    """Replace (or add) the section `name` of docs/BENCHMARKS.md with `body`."""
    text = DOC.read_text(encoding="utf-8") if DOC.exists() else "# Benchmarks\n"
    block = (f"<!-- {name} -->\n{body.rstrip()}\n\nCommand: `{cmd}` — {machine()}, "
             f"{time.strftime('%Y-%m-%d')}.\n<!-- /{name} -->")
    pattern = re.compile(rf"<!-- {re.escape(name)} -->.*?<!-- /{re.escape(name)} -->", re.S)
    text = pattern.sub(lambda _: block, text) if pattern.search(text) else \
        text.rstrip() + "\n\n" + block + "\n"
    DOC.write_text(text, encoding="utf-8")
