"""Benchmarks: each writes its figures, the machine and the command into docs/BENCHMARKS.md."""
