"""B3: data quality with Great Expectations — a screening batch and one intake.

A synthetic screening batch of children (valid GB 11643 ID numbers, about 5% of the records
broken in various ways) is validated with the child_intake suite by
expectations.runner.validate_records, one GE validation for the whole batch; then single
intakes are validated one by one in the warm process with validate_record, as the intake form
does. Usage:

    .venv/bin/python -m bench.b3_quality [--full]

It validates 100,000 rows at either size (about ten seconds in all): --full only records the
figures in the full-size section of docs/BENCHMARKS.md (B3) instead of the default sizes' one.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import pstats
import random
import sys
import time
from datetime import date, timedelta
from typing import Any

from bench.common import median, percentile, sized, sized_command, sized_title, write_section

SUITE = "child_intake"
DISTRICTS = {  # district choice -> its GB/T 2260 county code (Yinchuan)
    "xingqing": "640104", "xixia": "640105", "jinfeng": "640106",
    "yongning": "640121", "helan": "640122", "lingwu": "640181",
}
SYLLABLES = ("an", "bo", "chen", "dan", "fang", "hui", "jia", "li", "ling", "ma", "ning", "qing",
             "rui", "shan", "tao", "wei", "xiao", "yan", "yu", "zhi")
ROWS = 100_000  # the screening batch
INTAKES = 200  # warm single-intake validations timed
RUNS = 3  # batch runs; the figure is their median


def make_id(region: str, birth: date, sequence: int, male: bool) -> str:
    """A valid resident identity number: region, birth date, sequence (odd = male), check."""
    from app.domain.idcard import check_digit

    sequence = sequence * 2 + (1 if male else 0)
    first17 = f"{region}{birth:%Y%m%d}{sequence % 1000:03d}"
    return first17 + check_digit(first17)


def screening_batch(rows: int, *, seed: int = 3, broken: float = 0.05) -> list[dict[str, Any]]:
    """Synthetic child_intake records; `broken` of them break one rule each, in turn."""
    rng = random.Random(seed)
    base = date(2024, 1, 1)
    records = []
    for n in range(rows):
        intake = base + timedelta(days=rng.randrange(366))
        birth = intake - timedelta(days=rng.randrange(1, 18 * 365 - 5))
        district = rng.choice(list(DISTRICTS))
        male = rng.random() < 0.5
        records.append({
            "name": " ".join(rng.choice(SYLLABLES).title() + rng.choice(SYLLABLES)
                             for _ in range(2)),
            "sex": "M" if male else "F",
            "birth_date": birth.isoformat(),
            "id_number": make_id(DISTRICTS[district], birth, n, male),
            "district": district,
            "intake_date": intake.isoformat(),
            "hukou_district": rng.choice([*DISTRICTS, "other"]),
        })
    for index, n in enumerate(rng.sample(range(rows), round(rows * broken))):
        record = records[n]
        kind = index % len(BREAKS)
        record.update(BREAKS[kind](record))
    return records


def _with_check(first17: str) -> str:
    from app.domain.idcard import check_digit

    return first17 + check_digit(first17)


def _wrong_check(record: dict[str, Any]) -> dict[str, Any]:
    number = record["id_number"]
    return {"id_number": number[:17] + ("0" if number[17] != "0" else "1")}


BREAKS = [  # each gives the changes that break one rule of a valid record
    lambda r: {"name": None},
    lambda r: {"name": "   "},
    lambda r: {"name": "x" * 65},
    lambda r: {"sex": "boy"},
    lambda r: {"sex": 1},
    lambda r: {"birth_date": "2010-02-30"},
    lambda r: {"birth_date": r["birth_date"].replace("-", "")},
    lambda r: {"birth_date": "2025-12-31", "id_number": None},
    lambda r: {"birth_date": "1990-01-01", "id_number": None},
    _wrong_check,
    lambda r: {"id_number": r["id_number"][:17]},
    lambda r: {"id_number": int(r["id_number"][:17])},
    lambda r: {"id_number": _with_check(r["id_number"][:6] + "20100230" + r["id_number"][14:17])},
    lambda r: {"district": "Xingqing"},
    lambda r: {"district": None},
    lambda r: {"intake_date": "01/06/2024"},
    lambda r: {"hukou_district": "elsewhere"},
]


def run(*, full: bool = False) -> str:
    """Measure B3, write its section of docs/BENCHMARKS.md and return its summary line."""
    records = screening_batch(ROWS)

    started = time.perf_counter()
    import great_expectations  # noqa: F401 — the one-off import, timed on its own

    import_s = time.perf_counter() - started
    from expectations.runner import _gx_state, validate_record, validate_records

    started = time.perf_counter()
    validate_record(SUITE, records[0])
    first_s = time.perf_counter() - started
    started = time.perf_counter()
    validate_records(SUITE, records[:100])  # builds the batch plan: not part of the rate
    first_batch_s = time.perf_counter() - started

    batch_s = []
    for _ in range(RUNS):
        started = time.perf_counter()
        results = validate_records(SUITE, records)
        batch_s.append(time.perf_counter() - started)
    refused = sum(1 for errors in results if errors)
    rows_per_s = ROWS / median(batch_s)

    # The intakes are another scenario: a warm process, not one still holding a batch.
    intakes = records[:INTAKES]
    del results, records
    gc.collect()
    intake_s = []
    for record in intakes:
        started = time.perf_counter()
        validate_record(SUITE, record)
        intake_s.append(time.perf_counter() - started)
    p50, p95 = percentile(intake_s, 50), percentile(intake_s, 95)

    # GE's standard path for the same one-row check (Batch.validate of the whole suite), which
    # validate_record used before: what the runner's prepared graph saves.
    from expectations.runner import _frame

    state = _gx_state()
    standard_s = []
    for record in intakes[:30]:
        started = time.perf_counter()
        batch = state.batch_definition.get_batch(
            batch_parameters={"dataframe": _frame(SUITE, [record])})
        batch.validate(state.suites[SUITE], result_format="BOOLEAN_ONLY")
        standard_s.append(time.perf_counter() - started)

    profile = cProfile.Profile()
    profile.enable()
    for record in intakes[:50]:
        validate_record(SUITE, record)
    profile.disable()
    shares = _profile_shares(profile)

    line = f"B3 rows_per_s={rows_per_s:.0f} intake_p95_s={p95:.4f}"
    runs = ", ".join(f"{seconds:.2f}" for seconds in batch_s)
    table = "\n".join(f"| {measure} | {figure} |" for measure, figure in [
        ("Measure", "Figure"),
        ("---", "---"),
        (f"Batch, {ROWS:,} rows (median of {RUNS} runs: {runs} s)",
         f"**{rows_per_s:,.0f} rows/s**"),
        (f"One intake, warm, p50 / p95 / max over {INTAKES}",
         f"**{p50 * 1000:.1f} / {p95 * 1000:.1f} ms** / {max(intake_s) * 1000:.1f} ms"),
        ("One intake through GE's standard path, `Batch.validate(suite)` (what the runner did "
         "before), p50 over 30", f"{percentile(standard_s, 50) * 1000:.1f} ms"),
        ("Cold: `import great_expectations`", f"{import_s:.2f} s"),
        ("Cold: first validation (context, validator, suite's metric graph)", f"{first_s:.2f} s"),
        ("First batch of 100 rows (the batch's metric graph)", f"{first_batch_s:.2f} s"),
    ])
    body = f"""{sized_title("B3 — Data quality: a screening batch and one intake", full=full)}

`expectations.runner.validate_records` validates a synthetic screening batch of {ROWS:,}
children (suite `child_intake`; valid GB 11643 ID numbers, 5% of the records broken in
{len(BREAKS)} ways; {refused:,} refused) in one Great Expectations validation;
`validate_record` then validates {INTAKES} intakes one at a time in the warm process.

{table}

`{line}`

What the profile showed (cProfile of the runner before this change, then of the runner now).
Before, `validate_record` called `Batch.validate(suite)`, and
`Validator.graph_validate` redid, on every call, the work that depends only on the suite: for
each of the 19 expectations it rebuilt the Expectation from its configuration, asked it for its
metrics twice (`get_validation_dependencies`, once to build the graph and once again in
`metrics_validate`), and built the metric graph (hashing every metric's kwargs into its id).
`Expectation.configuration`, a property that rebuilds the configuration through pydantic
`.dict()` each time it is read, was read about 1,300 times per validation. Under cProfile (20
validations) `get_validation_dependencies` took 58% of the time, `.configuration` 48%, the
metric graph 20%, and computing the metrics on the data (`ValidationGraph.resolve`) 10%. The
runner now does the suite-only part once per suite and result format (Expectations,
dependencies, `ValidationGraph`, with GE's own calls) and per validation only loads the
DataFrame, resolves the graph and calls each expectation's `_validate` with its metrics. In the
warm profile of 50 intakes now, {shares}

A batch asks GE for BOOLEAN_ONLY results plus `return_unexpected_index_query`: with pandas,
GE 1.24 answers `df.filter(items=[<index labels>], axis=0)`, the failing rows' positions and no
values. The COMPLETE format was not used: its `unexpected_index_list` entries carry the failing
value next to the index column (e.g. `{{"name": <the name>, "_row": 1}}`), and it also builds
`unexpected_list` and `partial_unexpected_counts` from the values.
"""
    write_section(sized("B3", full=full), body, cmd=sized_command("b3_quality", full=full))
    return line


def _profile_shares(profile: cProfile.Profile) -> str:
    """The share of the profiled time in GE's metric computation and in the expectations."""
    stats = pstats.Stats(profile)
    cumulative: dict[str, float] = {}
    for (path, _line, name), row in stats.stats.items():  # type: ignore[attr-defined]
        key = f"{path.rsplit('/', 1)[-1]}:{name}"
        cumulative[key] = cumulative.get(key, 0.0) + row[3]
    total = cumulative.get("runner.py:validate_record") or stats.total_tt
    parts = {
        "computing the metrics on the data (`ValidationGraph.resolve`)":
            cumulative.get("validation_graph.py:resolve", 0.0),
        "the expectations' `_validate`": cumulative.get("expectation.py:_validate", 0.0),
        "building the columns and the DataFrame (`_frame`)":
            cumulative.get("runner.py:_frame", 0.0),
    }
    return "; ".join(f"{name} took {100 * seconds / total:.0f}%"
                     for name, seconds in parts.items()) + " of `validate_record`."


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true",
                        help="record in the full-size section (the sizes are the same)")
    args = parser.parse_args(sys.argv[1:])
    print(run(full=args.full))


if __name__ == "__main__":
    main()
