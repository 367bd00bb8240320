"""Training: whole processes, from spawn to exit, against the TensorFlow tutorial.

Each repeat runs every contender once, in turn (TF tutorial, attire tutorial, fast,
default), so that a slow spell of the machine hurts all of them rather than one.
"""

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from common import (BENCHMARKS, REPO, Bench, Outcome, Section, attire_env, fmt, median,
                    parse_result, run_process)

TF_NAME = "TF tutorial (Keras)"


@dataclass(frozen=True)
class Target:
    """What a contender must achieve; a None field is not part of the target."""
    max_ratio: float | None = None        # median wall time / the TF tutorial's
    min_accuracy: float | None = None     # median test accuracy, 0..1
    max_accuracy_gap: float | None = None  # |accuracy - the TF tutorial's|, 0..1

    def describe(self) -> str:
        parts = []
        if self.max_accuracy_gap is not None:
            parts.append(f"acc within {100 * self.max_accuracy_gap:.1f} pt of TF")
        if self.min_accuracy is not None:
            parts.append(f"acc ≥ {100 * self.min_accuracy:.0f} %")
        if self.max_ratio is not None:
            parts.append(f"time ≤ {self.max_ratio:g}× TF")
        return ", ".join(parts)

    def met(self, wall: float | None, accuracy: float | None,
            tf_wall: float | None, tf_accuracy: float | None) -> str:
        """'yes', 'no', or 'n/a' when a figure the target needs is missing."""
        checks = []
        if self.max_ratio is not None:
            checks.append(None if wall is None or not tf_wall else wall / tf_wall <= self.max_ratio)
        if self.min_accuracy is not None:
            checks.append(None if accuracy is None else accuracy >= self.min_accuracy)
        if self.max_accuracy_gap is not None:
            checks.append(None if accuracy is None or tf_accuracy is None
                          else abs(accuracy - tf_accuracy) <= self.max_accuracy_gap)
        if False in checks:
            return "no"
        return "n/a" if None in checks else "yes"


# attire presets and what each must achieve (the speed issue's targets).
ATTIRE_CONTENDERS = {
    "tutorial": Target(max_ratio=0.2, max_accuracy_gap=0.005),
    "fast": Target(max_ratio=0.3, min_accuracy=0.91),
    "default": Target(max_ratio=1.0, min_accuracy=0.93),
}

# Tiny budgets for --smoke, passed only where `attire train --help` lists the flag:
# the smoke run checks the harness, not attire, so it adapts to the CLI of the day.
# 3,000 images, 1,000 of them held out for validation: 2,000 to train on.
SMOKE_TRAIN_FLAGS = [("--epochs", "1"), ("--limit", "3000"), ("--set", "val_size=1000"),
                     ("--no-report",)]


def run(bench: Bench) -> Section:
    smoke_flags = smoke_train_flags() if bench.smoke else []
    names = ([TF_NAME] if bench.tf_python else []) + [f"attire {p}" for p in ATTIRE_CONTENDERS]
    outcomes: dict[str, list[Outcome]] = {name: [] for name in names}
    for repeat in range(1, bench.repeats + 1):
        for name in names:
            print(f"training: {name}, run {repeat}/{bench.repeats} ...", flush=True)
            if name == TF_NAME:
                outcome = run_tf_tutorial(bench, repeat)
            else:
                outcome = run_attire(bench, name.split()[-1], repeat, smoke_flags)
            outcomes[name].append(outcome)
            print(f"  {describe(outcome)}", flush=True)
    return summarise(bench, outcomes, smoke_flags)


def run_tf_tutorial(bench: Bench, repeat: int) -> Outcome:
    run_dir = bench.run_dir("training", f"tf-tutorial-r{repeat}")
    outcome = run_process(TF_NAME, [str(bench.tf_python), str(BENCHMARKS / "tutorial_keras.py")],
                          run_dir / "log.txt", env=bench.keras_env(), timeout_s=bench.timeout_s)
    return with_result(outcome, parse_result(outcome.log), "test_accuracy")


def run_attire(bench: Bench, preset: str, repeat: int, extra_flags: list[str]) -> Outcome:
    run_dir = bench.run_dir("training", f"attire-{preset}-r{repeat}")
    out = run_dir / "out"
    command = [sys.executable, "-m", "attire", "train", "--preset", preset,
               "--out", str(out), "--quiet", *extra_flags]
    outcome = run_process(f"attire {preset}", command, run_dir / "log.txt",
                          env=attire_env(), timeout_s=bench.timeout_s)
    return with_result(outcome, read_metrics(out), "accuracy")


def read_metrics(out: Path) -> dict | None:
    """RUN_DIR/metrics.json; if `out` holds run folders rather than being one, the newest."""
    candidates = [out / "metrics.json"] if (out / "metrics.json").is_file() else \
        sorted(out.rglob("metrics.json"), key=lambda p: p.stat().st_mtime)
    if not candidates:
        return None
    try:
        return json.loads(candidates[-1].read_text())
    except (OSError, ValueError):
        return None


def with_result(outcome: Outcome, result: dict | None, accuracy_key: str) -> Outcome:
    """Attach a contender's reported figures; a run that reports no accuracy has failed."""
    if not outcome.ok:
        return outcome
    accuracy = (result or {}).get(accuracy_key)
    if not isinstance(accuracy, (int, float)) or not 0 <= accuracy <= 1:
        outcome.ok = False
        outcome.error = (f"exited 0 but reported no test accuracy ({accuracy_key!r} in 0..1); "
                         f"got {accuracy!r}; see {outcome.log}")
        return outcome
    outcome.accuracy, outcome.result = float(accuracy), result
    return outcome


def smoke_train_flags() -> list[str]:
    try:
        done = subprocess.run([sys.executable, "-m", "attire", "train", "--help"], cwd=REPO,
                              env={**os.environ, **attire_env()},
                              capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired):
        return []
    if done.returncode != 0:
        return []
    listed = done.stdout.replace(",", " ").split()
    return [part for flag in SMOKE_TRAIN_FLAGS if flag[0] in listed for part in flag]


def describe(outcome: Outcome) -> str:
    if not outcome.ok:
        return f"FAILED after {outcome.wall_s:.1f} s: {outcome.error}"
    return (f"{outcome.wall_s:.1f} s wall, {outcome.cpu_s:.1f} s CPU, "
            f"accuracy {100 * outcome.accuracy:.2f} %")


def summarise(bench: Bench, outcomes: dict[str, list[Outcome]], smoke_flags: list[str]) -> Section:
    def medians(name):
        good = [o for o in outcomes.get(name, []) if o.ok]
        return median(o.wall_s for o in good), median(o.accuracy for o in good), good

    tf_wall, tf_accuracy, _ = medians(TF_NAME)
    summary = [["contender", "runs ok", "wall s, median (min–max)", "test acc %, median",
                "× TF time", "target", "met?"]]
    failures = 0
    for name, runs in outcomes.items():
        wall, accuracy, good = medians(name)
        failures += len(runs) - len(good)
        spread = f"{fmt(wall)} ({min(o.wall_s for o in good):.1f}–{max(o.wall_s for o in good):.1f})" \
            if good else "failed"
        ratio = fmt(wall / tf_wall, ".2f") if wall is not None and tf_wall else "–"
        if name == TF_NAME:
            target_text, met = "reference", ""
        else:
            target = ATTIRE_CONTENDERS[name.split()[-1]]
            target_text = target.describe()
            met = "n/a (smoke)" if bench.smoke else target.met(wall, accuracy, tf_wall, tf_accuracy)
        summary.append([name, f"{len(good)}/{len(runs)}", spread,
                        fmt(None if accuracy is None else 100 * accuracy, ".2f"),
                        ratio, target_text, met])

    details = [["run", "contender", "wall s", "CPU s", "test acc %", "status"]]
    for name, runs in outcomes.items():
        for i, o in enumerate(runs, 1):
            details.append([str(i), name, f"{o.wall_s:.1f}", f"{o.cpu_s:.1f}",
                            fmt(None if o.accuracy is None else 100 * o.accuracy, ".2f"),
                            "ok" if o.ok else f"FAILED: {o.error}"])

    notes = ["Wall time is the whole process, from spawn to exit (imports, data loading, "
             "training, evaluation, prediction); CPU s is user + system time of the process "
             "and its children, less sensitive to other load on the machine.",
             f"TF tutorial: `benchmarks/tutorial_keras.py` (20 epochs, batch 32, Adam) in its own venv."]
    if not bench.tf_python:
        notes.append(f"TF tutorial not run: {bench.tf_skip_reason}; ratios and targets are n/a.")
    if bench.smoke:
        tf_budget = "; TF 1 epoch on 2,000 images" if bench.tf_python else ""
        notes.append("SMOKE RUN: tiny budgets (attire flags "
                     f"`{' '.join(smoke_flags) or 'none accepted'}`{tf_budget}); "
                     "it checks the harness, its figures mean nothing.")
    return Section("Training: time and accuracy against the TensorFlow tutorial",
                   summary, details, notes, failures)
