"""The serving benchmark's harness, end to end at smoke size (its figures are in the README)."""

import importlib.util
from pathlib import Path

from serve_fixtures import tiny_model  # noqa: F401 (fixture)

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "serve_bench.py"


def load_bench():
    spec = importlib.util.spec_from_file_location("serve_bench", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_smoke_run_measures_every_scenario_without_failures(tiny_model):
    bench = load_bench()
    rows = bench.run(repeats=1, smoke=True, model=tiny_model)
    assert [row["scenario"] for row in rows] == [scenario[0] for scenario in bench.SCENARIOS]
    for row in rows:
        assert row["failures"] == 0 and row["requests_per_s"] > 0 and 0 < row["p50_ms"] <= row["p99_ms"]
    assert "cnn" in rows[0]["model"]
    assert "req/s" in bench.format_table(rows)
