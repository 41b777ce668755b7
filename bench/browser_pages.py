"""Browser pages: the CPU a page costs in Debian's desktop chromium and in its headless shell.

Launched as tests/web/conftest.py launches them (Playwright, headless, in Chinese), each
browser runs three kinds of step, `--runs` times each, on a static page with Chinese text
(no server, so that only the browser is counted):
- `new page`: a new page in an open context, nothing loaded (what each test's first page
  costs the browser);
- `new context + load`: a new context with one page, and the page loaded (what the `page`
  fixture and one `goto` cost);
- `load`: the page loaded again in an open page.
The CPU is the whole machine's, from /proc/stat (the browser's processes come and go with
their pages, too briefly to be read one by one): run it on an otherwise idle machine.

    .venv/bin/python -m bench.browser_pages [--runs 30]

It takes about a minute, outside `make bench`; its figures are in docs/BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

BROWSERS = {"chromium --headless": "/usr/bin/chromium",
            "chromium-headless-shell": "/usr/bin/chromium-headless-shell"}
PAGE = ("<!doctype html><html lang='zh-CN'><meta charset='utf-8'><title>收件箱</title><body>"
        + "<p>市未成年人社会保护中心：评估监护能力和家庭安全状况（流浪儿童救助）</p>" * 20
        + "</body></html>")


def busy_cpu_s() -> float:
    """CPU seconds the machine has spent busy (not idle, not waiting for I/O) since boot."""
    with open("/proc/stat") as f:
        ticks = [int(v) for v in f.readline().split()[1:]]
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")


def measure(step: Callable[[], None], runs: int) -> tuple[float, float]:
    """(CPU ms, wall ms) per step."""
    cpu0, wall0 = busy_cpu_s(), time.monotonic()
    for _ in range(runs):
        step()
    return ((busy_cpu_s() - cpu0) / runs * 1000, (time.monotonic() - wall0) / runs * 1000)


def run_browser(playwright: Any, executable: str, url: str, runs: int
                ) -> dict[str, tuple[float, float]]:
    browser = playwright.chromium.launch(
        executable_path=executable, headless=True,
        args=["--no-sandbox", "--disable-gpu", "--lang=zh-CN"],
        env={**os.environ, "LANGUAGE": "zh_CN:zh"})
    try:
        context = browser.new_context(locale="zh-CN")
        held = {"page": context.new_page()}
        held["page"].goto(url)  # warm: the first page of a browser costs more

        def new_page() -> None:
            held["page"].close()
            held["page"] = context.new_page()

        def new_context_and_load() -> None:
            other = browser.new_context(locale="zh-CN")
            other.new_page().goto(url)
            other.close()

        def load() -> None:
            held["page"].goto(url)

        return {"new page": measure(new_page, runs),
                "new context + load": measure(new_context_and_load, runs),
                "load": measure(load, runs)}
    finally:
        browser.close()


def main() -> None:
    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        page = Path(tmp) / "page.html"
        page.write_text(PAGE, encoding="utf-8")
        with sync_playwright() as p:
            results = {name: run_browser(p, exe, page.as_uri(), args.runs)
                       for name, exe in BROWSERS.items()}
    print(f"{'step':22s}" + "".join(f"{name:>34s}" for name in results))
    for step in next(iter(results.values())):
        print(f"{step:22s}" + "".join(
            f"{r[step][0]:>14.0f} ms CPU {r[step][1]:>6.0f} ms wall" for r in results.values()))


if __name__ == "__main__":
    main()
