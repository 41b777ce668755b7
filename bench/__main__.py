"""`python -m bench [--full]`: every benchmark, then one summary line each (see BENCHMARKS.md).

By default each runs at sizes that keep the whole under ten minutes here; --full runs the
issue's sizes (about 21 minutes on an idle machine). The figures of either go to sections of
docs/BENCHMARKS.md of their own, so a default run leaves the full-size figures as they are.

Each benchmark runs in a Python process of its own, as it does alone: nothing one imports
or configures is already warm or set for the next (B3 times the cold import of Great
Expectations, which B1's process has long done).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time

MODULES = ["b1_throughput", "b2_sweep", "b3_quality", "b4_inbox"]
SUMMARY = re.compile(r"^B\d\w* \w+=")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="the issue's sizes (about 21 minutes)")
    args = parser.parse_args()
    lines = []
    began = time.monotonic()
    for name in MODULES:
        print(f"running {name}…", flush=True)
        t0 = time.monotonic()
        proc = subprocess.Popen([sys.executable, "-m", f"bench.{name}"]
                                + (["--full"] if args.full else []),
                                stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None
        for line in proc.stdout:
            print(line, end="", flush=True)
            if SUMMARY.match(line):
                lines.append(line.rstrip("\n"))
        if proc.wait() != 0:
            sys.exit(f"{name} failed (exit {proc.returncode}): its output is above")
        print(f"{name}: {time.monotonic() - t0:.0f} s", flush=True)
    print(f"all benchmarks: {(time.monotonic() - began) / 60:.1f} min")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
