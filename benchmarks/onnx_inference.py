"""Section `onnx`: the same model through PyTorch and through ONNX Runtime.

For each engine, through `attire.Classifier` (what a user calls): the cold start (a new
Python process that imports attire, loads the model and classifies one image: what a
script or a serverless function pays on every start), images per second classifying
the 10,000 test images in one call (the median of `repeats` calls, after a warm-up
call), and the latency of one image (the median of SINGLE_CALLS calls on single test
images, after SINGLE_WARMUP). PyTorch keeps torch's default thread count, as in the
`inference` section, unless --torch-threads says otherwise; ONNX Runtime keeps its own.

In `make bench`, run.py exports the model with `attire export` into
.bench/runs/onnx/export/ (unless --onnx-model is given), then runs this file as one
process, which prints its table and a `RESULT {json}` line. On its own:

    python benchmarks/onnx_inference.py                        # the shipped model, exported to a temporary file
    python benchmarks/onnx_inference.py --model runs/RUN_DIR --onnx runs/RUN_DIR/model.onnx
    python benchmarks/onnx_inference.py --smoke                # harness check, seconds
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import REPO, Bench, Section, attire_env, fmt, median, markdown_table, process_table, \
    run_process, run_script

SECTION = "onnx"
SINGLE_CALLS = 200        # one-image calls per engine; the latency is their median
SMOKE_SINGLE_CALLS = 10
SINGLE_WARMUP = 5         # one-image calls before those, as in the `inference` section
SMOKE_IMAGES = 500        # test images classified per batch call in a smoke run


# ---- the section, as benchmarks/run.py calls it ----------------------------------------


def run(bench: Bench) -> Section:
    outcomes = []
    onnx_model = bench.onnx_model
    if onnx_model is None:  # export the model measured on the PyTorch side, so both are the same
        onnx_model = bench.run_dir(SECTION, "export") / "model.onnx"
        command = [sys.executable, "-m", "attire", "export", "-o", str(onnx_model),
                   "--data-dir", str(bench.data_dir)]
        if bench.attire_model:
            command.insert(4, str(bench.attire_model))
        print("onnx: attire export ...", flush=True)
        outcomes.append(run_process("attire export", command, onnx_model.parent / "log.txt",
                                    env=attire_env(), timeout_s=bench.timeout_s))
    rows = []
    if all(o.ok for o in outcomes):
        args = ["--repeats", str(bench.repeats), "--onnx", str(onnx_model),
                "--data-dir", str(bench.data_dir)]
        args += ["--model", str(bench.attire_model)] if bench.attire_model else []
        args += ["--smoke"] if bench.smoke else []
        print("onnx: PyTorch and ONNX Runtime ...", flush=True)
        outcomes.append(run_script(bench, SECTION, "measure", "onnx_inference.py", args))
        rows = outcomes[-1].result.get("rows", [])
    failures = sum(not o.ok for o in outcomes)
    for o in outcomes:
        print("  " + (f"{o.name}: {o.wall_s:.1f} s" if o.ok else f"{o.name} FAILED: {o.error}"), flush=True)
    notes = [f"PyTorch model: {bench.attire_model or 'the shipped default model'}; ONNX model: "
             f"{bench.onnx_model or 'the same, exported by `attire export` in this run'}.",
             *summary_notes(rows)]
    if bench.smoke:
        notes.append(f"SMOKE RUN: {SMOKE_IMAGES} images, {SMOKE_SINGLE_CALLS} single calls; "
                     "figures mean nothing.")
    return Section("ONNX Runtime against PyTorch, through attire.Classifier",
                   summary_table(rows) if rows else [["engine"], ["failed: see the processes below"]],
                   process_table(outcomes), notes, failures)


def summary_table(rows: list[dict]) -> list[list[str]]:
    table = [["engine", "threads", "model", "cold start s", "images/s, all in one call",
              "one image ms, median", "test acc %"]]
    for row in rows:
        table.append([row["engine"], row["threads"], row["model"], fmt(row["cold_start_s"], ".2f"),
                      fmt(row["images_per_s"], ",.0f"), fmt(row["single_image_ms"], ".3f"),
                      fmt(100 * row["test_accuracy"], ".2f")])
    return table


def summary_notes(rows: list[dict]) -> list[str]:
    by_engine = {row["engine"]: row for row in rows}
    if not {"PyTorch", "ONNX Runtime"} <= set(by_engine):
        return []
    torch_row, onnx_row = by_engine["PyTorch"], by_engine["ONNX Runtime"]
    return [f"ONNX Runtime: {onnx_row['images_per_s'] / torch_row['images_per_s']:.2f}× PyTorch's "
            f"batch throughput, {torch_row['single_image_ms'] / onnx_row['single_image_ms']:.2f}× "
            f"faster on one image ({rows[0]['images']:,} images, {rows[0]['repeats']} timed batch "
            f"calls, {rows[0]['single_calls']} single-image calls per engine; cold start: the "
            f"median of {rows[0]['cold_starts']} new processes)."]


# ---- the measurement, in this process ----------------------------------------------------


def benchmark(repeats: int, smoke: bool, model: str | Path | None = None,
              onnx_model: str | Path | None = None, data_dir: str | Path | None = None,
              torch_threads: int | None = None) -> list[dict]:
    """One row per engine: cold_start_s, images_per_s, single_image_ms, test_accuracy, and context.

    `onnx_model` None: `model` is exported to a temporary file first.
    """
    import torch

    from attire import Classifier, load_data
    from attire.export import export_model
    from attire.pretrained import resolve_model_path

    source = resolve_model_path(model)
    _, (test_images, test_labels) = load_data(data_dir, progress=False)
    if smoke:
        test_images, test_labels = test_images[:SMOKE_IMAGES], test_labels[:SMOKE_IMAGES]
    calls = SMOKE_SINGLE_CALLS if smoke else SINGLE_CALLS
    cold_starts = 1 if smoke else repeats
    if torch_threads:
        torch.set_num_threads(torch_threads)
    threads = (f"{torch.get_num_threads()} (--torch-threads)" if torch_threads
               else f"{torch.get_num_threads()} (torch's default, as in `inference`)")
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        if onnx_model is None:
            onnx_model = Path(folder) / "model.onnx"
            export_model(source, onnx_model, data_dir=data_dir)
        for engine, path in (("PyTorch", source), ("ONNX Runtime", Path(onnx_model))):
            cold_start_s = median(cold_start(path) for _ in range(cold_starts))
            classifier = Classifier.load(path)
            probabilities = classifier.predict_proba(test_images)  # warm-up, and the accuracy
            batch_s = median(timed(classifier.predict_proba, test_images) for _ in range(repeats))
            for i in range(SINGLE_WARMUP):
                classifier.predict_proba(test_images[i:i + 1])
            single_s = median(timed(classifier.predict_proba, test_images[i:i + 1]) for i in range(calls))
            rows.append({
                "engine": engine, "model": classifier.info["model"], "path": str(path),
                "images": len(test_images), "repeats": repeats, "single_calls": calls,
                "cold_starts": cold_starts, "cold_start_s": cold_start_s,
                "images_per_s": len(test_images) / batch_s, "single_image_ms": single_s * 1e3,
                "test_accuracy": float((probabilities.argmax(1) == test_labels).mean()),
                "threads": threads if engine == "PyTorch" else "its default",
            })
    return rows


COLD_START = ("import sys, numpy, attire; "
              "attire.Classifier.load(sys.argv[1]).predict(numpy.zeros((1, 28, 28), numpy.uint8))")


def cold_start(path: Path) -> float:
    """Seconds for a new process to import attire, load `path` and classify one image."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", COLD_START, str(path)], check=True,
                   env={**os.environ, **attire_env()})
    return time.perf_counter() - started


def timed(function, *args) -> float:
    started = time.perf_counter()
    function(*args)
    return time.perf_counter() - started


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="run directory or .safetensors file (default: the shipped model)")
    parser.add_argument("--onnx", help="the .onnx file of that model (default: export it to a temporary file)")
    parser.add_argument("--data-dir", help="folder with the Fashion-MNIST files (default: search)")
    parser.add_argument("--repeats", type=int, default=3,
                        help="timed batch calls and cold starts per engine (default: 3)")
    parser.add_argument("--torch-threads", type=int,
                        help="torch.set_num_threads for PyTorch (default: torch's, one per core, as "
                             "in the `inference` section); on a busy machine 1 thread can be far "
                             "faster for one image")
    parser.add_argument("--smoke", action="store_true",
                        help=f"{SMOKE_IMAGES} images, {SMOKE_SINGLE_CALLS} single calls and one "
                             "cold start: checks the code, measures nothing")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(REPO))  # this checkout's attire
    rows = benchmark(args.repeats, args.smoke, model=args.model, onnx_model=args.onnx,
                     data_dir=args.data_dir, torch_threads=args.torch_threads)
    print(markdown_table(summary_table(rows)), *summary_notes(rows), sep="\n\n")
    print("RESULT " + json.dumps({"rows": rows}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
