"""Benchmark section `onnx_inference`: the same model through PyTorch and through ONNX Runtime.

For each engine, through `attire.Classifier` (what a user calls): the cold start (a new
Python process that imports attire, loads the model and classifies one image: what a
script or a serverless function pays on every start), images per second classifying
the 10,000 test images in one call (the median of `repeats` calls, after a warm-up
call), and the latency of one image (the median of SINGLE_CALLS calls on single test
images). The model is exported to a temporary .onnx first, with attire's own self-check.

    python benchmarks/onnx_inference.py                        # the shipped model
    python benchmarks/onnx_inference.py --model runs/RUN_DIR   # a model of your own
    python benchmarks/onnx_inference.py --smoke                # harness check, seconds

Self-contained: `run(repeats, smoke)` returns the rows for a harness to tabulate.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # this checkout's attire

SINGLE_CALLS = 200        # one-image calls per engine; the latency is their median
SMOKE_SINGLE_CALLS = 10
SMOKE_IMAGES = 500        # test images classified per batch call in a smoke run


def run(repeats: int, smoke: bool, model: str | Path | None = None,
        data_dir: str | Path | None = None, torch_threads: int | None = None) -> list[dict]:
    """One row per engine: cold_start_s, images_per_s, single_image_ms, test_accuracy, and context.

    `torch_threads` sets torch.set_num_threads for the in-process figures (None: torch's
    default, one per core); ONNX Runtime keeps its default, one per physical core.
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
    if torch_threads:
        torch.set_num_threads(torch_threads)
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        onnx_path = Path(folder) / "model.onnx"
        export_model(source, onnx_path, data_dir=data_dir)
        for engine, path in (("torch", source), ("onnx", onnx_path)):
            cold_start_s = statistics.median(cold_start(path) for _ in range(1 if smoke else repeats))
            classifier = Classifier.load(path)
            probabilities = classifier.predict_proba(test_images)  # warm-up, and the accuracy
            batch_s = statistics.median(timed(classifier.predict_proba, test_images)
                                        for _ in range(repeats))
            single_s = statistics.median(timed(classifier.predict_proba, test_images[i:i + 1])
                                         for i in range(calls))
            rows.append({
                "section": "onnx_inference", "engine": engine, "model": classifier.info["model"],
                "source": str(source), "images": len(test_images), "repeats": repeats,
                "single_calls": calls, "cold_start_s": cold_start_s,
                "images_per_s": len(test_images) / batch_s, "single_image_ms": single_s * 1e3,
                "test_accuracy": float((probabilities.argmax(1) == test_labels).mean()),
                "threads": torch.get_num_threads() if engine == "torch" else "default",
                "smoke": smoke,
            })
    return rows


COLD_START = ("import sys, numpy, attire; "
              "attire.Classifier.load(sys.argv[1]).predict(numpy.zeros((1, 28, 28), numpy.uint8))")


def cold_start(path: Path) -> float:
    """Seconds for a new process to import attire, load `path` and classify one image."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", COLD_START, str(path)], check=True, env=env)
    return time.perf_counter() - started


def timed(function, *args) -> float:
    started = time.perf_counter()
    function(*args)
    return time.perf_counter() - started


def format_table(rows: list[dict]) -> str:
    lines = ["| engine | threads | model | cold start s | images/s (batch of all) | one image ms (median) | test acc % |",
             "| --- | ---: | --- | ---: | ---: | ---: | ---: |"]
    for row in rows:
        lines.append(f"| {row['engine']} | {row['threads']} | {row['model']} | {row['cold_start_s']:.2f} | "
                     f"{row['images_per_s']:,.0f} | {row['single_image_ms']:.3f} | "
                     f"{100 * row['test_accuracy']:.2f} |")
    by_engine = {row["engine"]: row for row in rows}
    if {"torch", "onnx"} <= set(by_engine):
        torch_row, onnx_row = by_engine["torch"], by_engine["onnx"]
        lines += ["", f"ONNX Runtime vs PyTorch: {onnx_row['images_per_s'] / torch_row['images_per_s']:.2f}x "
                      f"the batch throughput, {torch_row['single_image_ms'] / onnx_row['single_image_ms']:.2f}x "
                      f"faster on one image ({rows[0]['images']:,} images, {rows[0]['repeats']} repeats, "
                      f"{rows[0]['single_calls']} single-image calls; {os.cpu_count()} CPUs, "
                      f"load average {os.getloadavg()[0]:.1f})"]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="run directory or .safetensors file (default: the shipped model)")
    parser.add_argument("--data-dir", help="folder with the Fashion-MNIST files (default: search)")
    parser.add_argument("--repeats", type=int, default=3, help="timed batch calls per engine (default: 3)")
    parser.add_argument("--torch-threads", type=int,
                        help="torch.set_num_threads for PyTorch (default: torch's, one per core); "
                             "on a busy machine 1 thread can be far faster for one image")
    parser.add_argument("--smoke", action="store_true",
                        help=f"{SMOKE_IMAGES} images and {SMOKE_SINGLE_CALLS} single calls: "
                             "checks the code, measures nothing")
    args = parser.parse_args(argv)
    print(format_table(run(args.repeats, args.smoke, model=args.model, data_dir=args.data_dir,
                         torch_threads=args.torch_threads)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
