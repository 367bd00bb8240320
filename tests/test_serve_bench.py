"""The serving benchmark's measurement, end to end at smoke size, on a tiny model and no dataset
(its figures are in the README; tests/test_bench.py runs it as a section of run.py)."""

import sys
from pathlib import Path

from serve_fixtures import tiny_model  # noqa: F401 (fixture)

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import serve_bench  # noqa: E402


def test_smoke_run_measures_every_scenario_without_failures(tiny_model):
    rows = serve_bench.benchmark(repeats=1, smoke=True, model=tiny_model)
    assert [row["scenario"] for row in rows] == [scenario[0] for scenario in serve_bench.SCENARIOS]
    for row in rows:
        assert row["failures"] == 0 and row["requests_per_s"] > 0 and 0 < row["p50_ms"] <= row["p99_ms"]
    assert "cnn" in rows[0]["model"]
    table = serve_bench.summary_table(rows)
    assert table[0][3] == "requests/s, median" and len(table) == 1 + len(rows)
