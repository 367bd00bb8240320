"""The speed benchmark (`make bench`): attire against the TensorFlow tutorial's own code.

Sets up what it needs (a TensorFlow venv in .bench/tf-venv, the Keras data cache),
runs every section, prints its tables and writes benchmarks/RESULTS.md atomically.

    python benchmarks/run.py                      # everything, 3 repeats
    python benchmarks/run.py --only inference     # one section
    python benchmarks/run.py --smoke --results /tmp/R.md   # harness check, about 2 min

Adding a section: a module with `run(bench: common.Bench) -> common.Section`, and one
line in SECTIONS. Exit status: 0 when every contender ran (targets met or not), 1 when
one failed, 2 when the setup failed.
"""

import argparse
import shlex
import sys
import time
from pathlib import Path

import common
import inference
import onnx_inference
import photo_accuracy
import serve_bench
import training

sys.path.insert(0, str(common.REPO))  # the checkout's attire, for its atomic writes
from attire.fileio import write_text  # noqa: E402

# Section name -> its run(bench) function, in the order they run and are reported.
SECTIONS = {
    "training": training.run,
    "inference": inference.run,
    "onnx": onnx_inference.run,
    "serve": serve_bench.run,
    "photos": photo_accuracy.run,
}


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=None,
                        help="whole-process runs per contender (default: 3; 1 with --smoke)")
    parser.add_argument("--only", default=",".join(SECTIONS),
                        help=f"comma-separated sections to run (default: all: {','.join(SECTIONS)})")
    parser.add_argument("--smoke", action="store_true",
                        help="tiny budgets to check the harness end to end; never installs "
                             "TensorFlow (TF runs only if its venv exists) and never writes "
                             "benchmarks/RESULTS.md")
    parser.add_argument("--results", type=Path, default=None,
                        help="where to write the report (default: benchmarks/RESULTS.md; "
                             "with --smoke: BENCH_DIR/RESULTS-smoke.md)")
    parser.add_argument("--bench-dir", type=Path, default=common.REPO / ".bench",
                        help="scratch folder: TF venv, Keras cache, logs (default: .bench)")
    parser.add_argument("--data-dir", type=Path, default=common.DEBIAN_DATA,
                        help=f"folder with the four Fashion-MNIST .gz files (default: {common.DEBIAN_DATA})")
    parser.add_argument("--attire-model", type=Path, default=None,
                        help="model for the attire sections: a run directory or .safetensors "
                             "file (default: the shipped default model, `attire.Classifier.load()`)")
    parser.add_argument("--onnx-model", type=Path, default=None,
                        help="the .onnx file of that model for the onnx section (default: "
                             "exported into BENCH_DIR by `attire export` in the run)")
    parser.add_argument("--no-tf", action="store_true",
                        help="skip the TensorFlow contenders (ratios become n/a)")
    parser.add_argument("--timeout", type=float, default=None,
                        help="seconds before one process is killed (default: 3600; 300 with --smoke)")
    args = parser.parse_args(argv)
    unknown = [s for s in args.only.split(",") if s not in SECTIONS]
    if unknown:
        parser.error(f"unknown section {', '.join(unknown)}; the sections are: {', '.join(SECTIONS)}")
    if args.repeats is None:
        args.repeats = 1 if args.smoke else 3
    if args.repeats < 1:
        parser.error(f"--repeats must be at least 1, got {args.repeats}")
    if args.results is None:
        args.results = (args.bench_dir / "RESULTS-smoke.md" if args.smoke
                        else common.BENCHMARKS / "RESULTS.md")
    if args.timeout is None:
        args.timeout = 300 if args.smoke else 3600
    return args


def set_up(args) -> common.Bench:
    """The TF venv (unless --smoke or --no-tf) and the Keras cache."""
    args.bench_dir = args.bench_dir.resolve()
    bench = common.Bench(repeats=args.repeats, smoke=args.smoke, bench_dir=args.bench_dir,
                         data_dir=args.data_dir.resolve(), tf_python=None, timeout_s=args.timeout,
                         attire_model=args.attire_model and args.attire_model.resolve(),
                         onnx_model=args.onnx_model and args.onnx_model.resolve())
    venv = args.bench_dir / "tf-venv"
    if args.no_tf:
        bench.tf_skip_reason = "--no-tf"
    elif args.smoke and not (venv / ".installed").exists():
        bench.tf_skip_reason = f"smoke run, and no TensorFlow venv at {venv}"
    else:  # a smoke run uses the venv as it is; a real run makes sure it is the pinned one
        bench.tf_python = venv / "bin" / "python" if args.smoke else common.ensure_tf_venv(venv)
        common.place_keras_cache(args.bench_dir / "keras", bench.data_dir)
    return bench


def report(bench: common.Bench, machine: dict, sections: list[common.Section],
           load_after: str, elapsed_s: float) -> str:
    command = "python " + " ".join(shlex.quote(a) for a in sys.argv)
    lines = ["# attire speed benchmark", "",
             f"Produced by `{command}` (`make bench` runs `python benchmarks/run.py`) in "
             f"{elapsed_s / 60:.1f} min; {bench.repeats} repeat(s), contenders alternating.", ""]
    if bench.smoke:
        lines += ["**Smoke run: tiny budgets, the figures mean nothing.**", ""]
    lines += ["## Machine", "", common.markdown_table(
        [["", ""], *([k, v] for k, v in machine.items()),
         ["load average after", load_after]]), ""]
    for section in sections:
        lines += [f"## {section.title}", "", common.markdown_table(section.summary), ""]
        lines += [f"- {note}" for note in section.notes] + [""]
        lines += ["Every process:", "", common.markdown_table(section.details), ""]
    return "\n".join(lines)


def main(argv=None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    try:
        bench = set_up(args)
    except Exception as e:  # noqa: BLE001 - a setup failure is one line and exit 2
        print(f"bench: setup failed: {type(e).__name__}: {e}", file=sys.stderr)
        return 2
    machine = common.machine_info(bench)
    sections = [SECTIONS[name](bench) for name in args.only.split(",")]
    text = report(bench, machine, sections, common.load_average(),
                  time.perf_counter() - started)
    write_text(args.results, text + "\n")
    for section in sections:
        print(f"\n## {section.title}\n\n{common.markdown_table(section.summary)}")
    print(f"\nreport written to {args.results}")
    failures = sum(s.failures for s in sections)
    if failures:
        print(f"bench: {failures} process(es) failed; see the tables and logs under "
              f"{bench.bench_dir / 'runs'}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
