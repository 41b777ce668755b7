"""`python -m bench [--quick]`: every benchmark, then one summary line each (see BENCHMARKS.md)."""

from __future__ import annotations

import argparse
import importlib
import time

MODULES = ["b1_throughput", "b2_sweep", "b3_quality", "b4_inbox"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a quick look")
    args = parser.parse_args()
    lines = []
    began = time.monotonic()
    for name in MODULES:
        module = importlib.import_module(f"bench.{name}")
        print(f"running {name}…", flush=True)
        t0 = time.monotonic()
        lines.append(module.run(quick=args.quick))
        print(f"{name}: {time.monotonic() - t0:.0f} s", flush=True)
    print(f"all benchmarks: {(time.monotonic() - began) / 60:.1f} min")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
