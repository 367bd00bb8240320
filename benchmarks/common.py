"""What every benchmark section shares: the context, timed processes, medians, tables,
the machine's description, and the TensorFlow venv with its Keras data cache.

A section is a module with `run(bench: Bench) -> Section`; benchmarks/run.py lists them.
"""

import datetime
import json
import os
import platform
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BENCHMARKS = REPO / "benchmarks"

# The Debian package dataset-fashion-mnist; its .gz are recompressed copies of the
# originals (different bytes, same content), under the original file names.
DEBIAN_DATA = Path("/usr/share/datasets/fashion-mnist")
DATA_FILES = ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
              "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]

# Pinned so that the reference does not move under a rerun; recorded in RESULTS.md.
TF_REQUIREMENT = "tensorflow-cpu==2.21.0"

LOG_TAIL_LINES = 1  # lines of a failed process's output quoted (the error is usually last)


@dataclass
class Bench:
    """Everything a section needs to know about this invocation of run.py."""
    repeats: int                 # whole-process runs per contender
    smoke: bool                  # tiny budgets: checks the harness, measures nothing
    bench_dir: Path              # scratch space: venv, Keras cache, run dirs, logs
    data_dir: Path               # where the Fashion-MNIST .gz files are
    tf_python: Path | None       # the TensorFlow venv's python; None: TF contenders skipped
    tf_skip_reason: str = ""     # why tf_python is None
    attire_model: Path | None = None  # for the attire sections; None: the shipped default
    onnx_model: Path | None = None    # for the onnx section; None: attire_model exported there
    timeout_s: float = 3600      # per process

    def run_dir(self, section: str, name: str) -> Path:
        """An empty folder for one process's outputs."""
        path = self.bench_dir / "runs" / section / slug(name)
        shutil.rmtree(path, ignore_errors=True)
        path.mkdir(parents=True)
        return path

    def keras_env(self) -> dict:
        env = {"KERAS_HOME": str(self.bench_dir / "keras")}
        if self.smoke:
            env["ATTIRE_BENCH_SMOKE"] = "1"
        return env


@dataclass
class Outcome:
    """One whole-process run of one contender."""
    name: str
    ok: bool
    wall_s: float                # spawn to exit
    cpu_s: float                 # user + system of the process and its children
    accuracy: float | None = None  # test accuracy, 0..1
    result: dict = field(default_factory=dict)  # whatever else the contender reported
    error: str = ""              # one line: why it failed
    log: Path | None = None


@dataclass
class Section:
    """What a section hands back to run.py: tables in Markdown, plus notes."""
    title: str
    summary: list[list[str]]     # first row: headers
    details: list[list[str]]     # first row: headers; one row per process
    notes: list[str] = field(default_factory=list)
    failures: int = 0            # contenders that failed (not targets missed)


def attire_env() -> dict:
    """Benchmark the attire of this checkout, whatever the venv's editable install points to."""
    return {"PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}


def slug(name: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in name.lower()).strip("-")


def run_process(name: str, command: list[str], log: Path, env: dict | None = None,
                timeout_s: float = 3600) -> Outcome:
    """Run `command` as a fresh process, output to `log`; time it from spawn to exit.

    Never raises for the child's sake: a crash, a non-zero exit or a timeout comes
    back as an Outcome with ok=False and a one-line error.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    # Children this process has reaped add to RUSAGE_CHILDREN; we reap one at a time.
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with open(log, "w") as out:
        out.write("$ " + " ".join(command) + "\n")
        out.flush()
        start = time.perf_counter()
        try:
            process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, cwd=REPO,
                                       env={**os.environ, **(env or {})}, start_new_session=True)
        except OSError as e:
            return Outcome(name, False, 0.0, 0.0, error=f"cannot start: {e}", log=log)
        try:
            returncode = process.wait(timeout=timeout_s)
            error = "" if returncode == 0 else f"exit status {returncode}"
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            returncode, error = None, f"timed out after {timeout_s:.0f} s"
        wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if error:
        error = f"{error}: {tail(log)} (log: {log})"
    return Outcome(name, returncode == 0, wall, cpu, error=error, log=log)


def run_script(bench: Bench, section: str, name: str, script: str, args: list[str]) -> Outcome:
    """Run benchmarks/SCRIPT ARGS with this python as a timed process, for sections whose
    figures come from inside the process; its `RESULT {json}` line becomes outcome.result.

    The result is read even after a non-zero exit (a script may report its figures and
    then fail for a failed request); a zero exit without a RESULT line is a failure.
    """
    log = bench.run_dir(section, name) / "log.txt"
    outcome = run_process(name, [sys.executable, str(BENCHMARKS / script), *args], log,
                          env=attire_env(), timeout_s=bench.timeout_s)
    outcome.result = parse_result(log) or {}
    if outcome.ok and not outcome.result:
        outcome.ok, outcome.error = False, f"exited 0 without a RESULT line; see {log}"
    return outcome


def process_table(outcomes: list[Outcome]) -> list[list[str]]:
    """The per-process table of a section: one row per process, its time and status."""
    return [["process", "wall s", "status"],
            *([o.name, f"{o.wall_s:.1f}", "ok" if o.ok else f"FAILED: {o.error}"] for o in outcomes)]


def tail(log: Path, lines: int = LOG_TAIL_LINES) -> str:
    """The last non-empty lines of a log, joined into one line for a table cell."""
    try:
        text = log.read_text(errors="replace")
    except OSError:
        return "(no log)"
    kept = [line.strip() for line in text.splitlines() if line.strip()][-lines:]
    return " / ".join(kept).replace("|", "\\|")[:300]


def parse_result(log: Path) -> dict | None:
    """The JSON of the last `RESULT {...}` line in a log, or None."""
    try:
        lines = log.read_text(errors="replace").splitlines()
    except OSError:
        return None
    for line in reversed(lines):
        if line.startswith("RESULT "):
            try:
                return json.loads(line[len("RESULT "):])
            except ValueError:
                return None
    return None


def median(values) -> float | None:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt(value, spec: str = ".1f", none: str = "–") -> str:
    return none if value is None else format(value, spec)


def markdown_table(rows: list[list[str]]) -> str:
    """Rows of strings (the first is the header) as an aligned Markdown table."""
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    def line(row):
        return "| " + " | ".join(str(cell).ljust(width) for cell, width in zip(row, widths)) + " |"
    rule = "|" + "|".join("-" * (width + 2) for width in widths) + "|"
    return "\n".join([line(rows[0]), rule, *(line(row) for row in rows[1:])])


# ---- the machine -------------------------------------------------------------------


def machine_info(bench: Bench) -> dict[str, str]:
    """What a reader needs to judge the figures: CPU, cores, load, versions, date."""
    return {
        "date": datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "cpu": cpu_model(),
        "cores": f"{os.cpu_count()} logical, {len(os.sched_getaffinity(0))} usable by this process",
        "memory": memory_total(),
        "load average (1, 5, 15 min)": load_average(),
        "python": platform.python_version(),
        "torch": package_version(sys.executable, "torch"),
        "tensorflow": (package_version(bench.tf_python, "tensorflow-cpu") if bench.tf_python
                       else f"not used ({bench.tf_skip_reason})"),
    }


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def memory_total() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 2**20:.1f} GiB"
    except OSError:
        pass
    return "unknown"


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


def package_version(python: Path | str, package: str) -> str:
    """The installed version of `package` in the environment of `python`, without importing it."""
    code = f"import importlib.metadata as m; print(m.version({package!r}))"
    try:
        done = subprocess.run([str(python), "-c", code], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"unknown ({e})"
    return done.stdout.strip() if done.returncode == 0 else "not installed"


# ---- TensorFlow: its own venv and the Keras data cache -----------------------------


def ensure_tf_venv(venv: Path) -> Path:
    """Create `venv` with TF_REQUIREMENT unless it is already there; return its python.

    A stamp file holding the requirement makes this idempotent: a rerun costs nothing,
    and a change of TF_REQUIREMENT reinstalls.
    """
    python, stamp = venv / "bin" / "python", venv / ".installed"
    if python.exists() and stamp.exists() and stamp.read_text().strip() == TF_REQUIREMENT:
        return python
    log = venv.parent / "tf-venv-install.log"
    print(f"setting up {venv} with {TF_REQUIREMENT} (once; a few minutes; log: {log})", flush=True)
    base = getattr(sys, "_base_executable", sys.executable)  # not this venv's python
    venv.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w") as out:
        for command in ([base, "-m", "venv", str(venv)],
                        [str(python), "-m", "pip", "install", TF_REQUIREMENT]):
            if subprocess.run(command, stdout=out, stderr=subprocess.STDOUT).returncode != 0:
                raise RuntimeError(f"`{' '.join(command)}` failed; see {log}")
    stamp.write_text(TF_REQUIREMENT + "\n")
    return python


def place_keras_cache(keras_home: Path, data_dir: Path) -> Path:
    """Copy the dataset where Keras 3's `fashion_mnist.load_data()` looks before downloading.

    load_data() calls get_file(name, cache_subdir="datasets/fashion-mnist") without a
    file_hash, so Keras takes any file at $KERAS_HOME/datasets/fashion-mnist/NAME as
    cached: the original names are all it needs, the recompressed bytes are fine.
    """
    target = keras_home / "datasets" / "fashion-mnist"
    target.mkdir(parents=True, exist_ok=True)
    for name in DATA_FILES:
        source = data_dir / name
        if not source.is_file():
            raise FileNotFoundError(f"{source} is missing: the benchmark reads Fashion-MNIST from "
                                    f"--data-dir (default {DEBIAN_DATA}); on Debian: "
                                    "apt-get install dataset-fashion-mnist")
        placed = target / name
        if not placed.exists() or placed.stat().st_size != source.stat().st_size:
            shutil.copyfile(source, placed)
    return keras_home
