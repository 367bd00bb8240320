"""The benchmark harness: `benchmarks/run.py --smoke` end to end, and its arithmetic.

The smoke run uses an empty --bench-dir, so TensorFlow is neither installed nor run;
it needs the `attire train` CLI (`--preset P --out DIR --quiet`, writing
DIR/metrics.json with `accuracy`), `attire export`, `attire serve` and `attire.Classifier`.
"""

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "benchmarks"))

import common  # noqa: E402
import run  # noqa: E402
import training  # noqa: E402

RUN_PY = REPO / "benchmarks" / "run.py"


def run_harness(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(RUN_PY), *args], capture_output=True, text=True,
                          cwd=REPO, timeout=timeout)


def smoke(tmp_path: Path, sections: str) -> tuple[subprocess.CompletedProcess, Path]:
    results = tmp_path / "RESULTS.md"
    committed = REPO / "benchmarks" / "RESULTS.md"
    before = committed.read_bytes() if committed.exists() else None
    done = run_harness("--smoke", "--only", sections, "--bench-dir", str(tmp_path / "bench"),
                       "--results", str(results))
    after = committed.read_bytes() if committed.exists() else None
    assert before == after, "a smoke run must never touch benchmarks/RESULTS.md"
    return done, results


# ---- end to end ----------------------------------------------------------------------


def test_smoke_runs_every_section(tmp_path, real_data):
    """The whole harness once (about 2 min on 2 quiet cores): every section's smoke budget."""
    done, results = smoke(tmp_path, ",".join(run.SECTIONS))
    assert done.returncode == 0, done.stdout + done.stderr
    for preset in training.ATTIRE_CONTENDERS:
        row = next(line for line in done.stdout.splitlines() if line.startswith(f"| attire {preset} "))
        assert "| 1/1 " in row, row
    row = next(line for line in done.stdout.splitlines() if line.startswith("| attire: "))
    assert "| 1/1 " in row, row
    report = results.read_text()
    assert "Smoke run" in report and "## Machine" in report and "Every process" in report
    assert "TF tutorial not run" in report  # an empty bench dir: no TensorFlow installed
    for title in ("## ONNX Runtime against PyTorch", "## Serving", "## Accuracy on product-style photos"):
        assert title in report, title
    assert "| PyTorch " in report and "| ONNX Runtime " in report
    assert "torch's default, as in `inference`" in report  # the same thread setting as inference
    assert (tmp_path / "bench" / "runs" / "onnx" / "export" / "model.onnx").is_file()
    assert "| 28×28 PNG, 16 clients " in report and "FAILED" not in report
    assert "| 0    | 100 " in report  # photos: seed 0, the smoke sample


def test_unknown_section_lists_the_valid_ones(tmp_path):
    done = run_harness("--only", "trainnig", "--bench-dir", str(tmp_path))
    assert done.returncode == 2
    assert "trainnig" in done.stderr and "training, inference" in done.stderr


# ---- the pieces ------------------------------------------------------------------------


def test_failed_process_is_an_outcome_not_an_exception(tmp_path):
    outcome = common.run_process(
        "boom", [sys.executable, "-c", "print('attire: error: no such preset'); raise SystemExit(3)"],
        tmp_path / "log.txt")
    assert not outcome.ok
    assert "exit status 3" in outcome.error and "no such preset" in outcome.error
    assert outcome.wall_s > 0


def test_missing_program_is_an_outcome(tmp_path):
    outcome = common.run_process("ghost", [str(tmp_path / "no-such-python")], tmp_path / "log.txt")
    assert not outcome.ok and "cannot start" in outcome.error


def test_hanging_process_is_killed(tmp_path):
    outcome = common.run_process("slow", [sys.executable, "-c", "import time; time.sleep(60)"],
                                 tmp_path / "log.txt", timeout_s=0.5)
    assert not outcome.ok and "timed out" in outcome.error
    assert outcome.wall_s < 30


def test_result_line_is_parsed(tmp_path):
    log = tmp_path / "log.txt"
    log.write_text('Epoch 1/20\nRESULT {"test_accuracy": 0.5}\nTest accuracy: 0.88\n'
                   'RESULT {"test_accuracy": 0.8829}\n')
    assert common.parse_result(log) == {"test_accuracy": 0.8829}
    log.write_text("Traceback...\n")
    assert common.parse_result(log) is None


def test_attire_without_metrics_fails(tmp_path):
    outcome = common.Outcome("attire fast", ok=True, wall_s=1.0, cpu_s=1.0, log=tmp_path / "log")
    outcome = training.with_result(outcome, training.read_metrics(tmp_path), "accuracy")
    assert not outcome.ok and "no test accuracy" in outcome.error


@pytest.mark.parametrize("wall, accuracy, expected", [
    (19.0, 0.884, "yes"),    # 0.19× TF, 0.1 pt from TF's 88.3 %
    (21.0, 0.884, "no"),     # 0.21×: too slow
    (19.0, 0.870, "no"),     # 1.3 pt below TF
    (19.0, None, "n/a"),
])
def test_tutorial_target(wall, accuracy, expected):
    target = training.ATTIRE_CONTENDERS["tutorial"]
    assert target.met(wall, accuracy, tf_wall=100.0, tf_accuracy=0.883) == expected


def test_time_target_needs_the_tf_reference():
    target = training.ATTIRE_CONTENDERS["default"]
    assert target.met(50.0, 0.935, tf_wall=None, tf_accuracy=None) == "n/a"
    assert target.met(50.0, 0.925, tf_wall=None, tf_accuracy=None) == "no"  # a known miss stays a miss


def test_summary_ratios_and_verdicts(tmp_path):
    bench = common.Bench(repeats=2, smoke=False, bench_dir=tmp_path, data_dir=tmp_path,
                         tf_python=Path("python"))
    def ok(name, wall, accuracy):
        return common.Outcome(name, True, wall, wall, accuracy=accuracy)
    outcomes = {
        training.TF_NAME: [ok(training.TF_NAME, 100, 0.88), ok(training.TF_NAME, 110, 0.89)],
        "attire tutorial": [ok("attire tutorial", 15, 0.885), ok("attire tutorial", 16, 0.886)],
        "attire fast": [ok("attire fast", 40, 0.92),
                        common.Outcome("attire fast", False, 1, 1, error="exit status 1: boom")],
        "attire default": [ok("attire default", 90, 0.92), ok("attire default", 95, 0.925)],
    }
    section = training.summarise(bench, outcomes, [])
    rows = {row[0]: row for row in section.summary[1:]}
    assert rows["attire tutorial"][4] == "0.15" and rows["attire tutorial"][-1] == "yes"
    assert rows["attire fast"][1] == "1/2" and rows["attire fast"][-1] == "no"  # 0.38×
    assert rows["attire default"][-1] == "no"  # 92.25 % < 93 %
    assert section.failures == 1
    assert any("boom" in cell for row in section.details for cell in row)


def test_markdown_table_is_aligned():
    table = common.markdown_table([["a", "bb"], ["ccc", "d"]]).splitlines()
    assert table == ["| a   | bb |", "|-----|----|", "| ccc | d  |"]
