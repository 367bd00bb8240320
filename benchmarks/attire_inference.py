"""attire's side of the inference benchmark: the public API on the 10,000 test images.

`attire.Classifier.load()` (the shipped default model, or --model), then `.predict_proba(x_test)` on the
uint8 (10000, 28, 28) array, exactly as a user would call it; the same figures as
tutorial_keras.py --inference, printed as one `RESULT {json}` line.
Run with the project venv: `python benchmarks/attire_inference.py --data-dir DIR`.
"""

import argparse
import gzip
import json
import statistics
import time
from pathlib import Path

import numpy as np


def read_idx_gz(path: Path, header_bytes: int) -> np.ndarray:
    """The values of a gzipped IDX file, as Keras's load_data reads them (no checks)."""
    with gzip.open(path, "rb") as f:
        return np.frombuffer(f.read(), np.uint8, offset=header_bytes)


def median_seconds(function, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, required=True,
                        help="folder with t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz")
    parser.add_argument("--model", default=None,
                        help="a run directory or model file (default: the shipped default model)")
    parser.add_argument("--single-calls", type=int, default=200,
                        help="one-image calls timed for the latency median (default: 200)")
    parser.add_argument("--warm-repeats", type=int, default=3,
                        help="warm calls on all test images timed for the throughput median (default: 3)")
    args = parser.parse_args()

    test_labels = read_idx_gz(args.data_dir / "t10k-labels-idx1-ubyte.gz", 8)
    x_test = read_idx_gz(args.data_dir / "t10k-images-idx3-ubyte.gz", 16).reshape(-1, 28, 28)

    start = time.perf_counter()
    import attire
    classifier = attire.Classifier.load(args.model) if args.model else attire.Classifier.load()
    load_seconds = time.perf_counter() - start  # import and model loading
    import torch  # already imported by attire; only to report its thread count

    start = time.perf_counter()
    probabilities = np.asarray(classifier.predict_proba(x_test))
    first_seconds = time.perf_counter() - start
    warm_seconds = median_seconds(lambda: classifier.predict_proba(x_test), args.warm_repeats)

    n_test = len(x_test)
    single_images = [x_test[i % n_test][None] for i in range(args.single_calls)]  # (1, 28, 28)
    for image in single_images[:5]:
        classifier.predict_proba(image)
    single_ms = []
    for image in single_images:
        start = time.perf_counter()
        classifier.predict_proba(image)
        single_ms.append(1000 * (time.perf_counter() - start))

    result = {
        "test_accuracy": float(np.mean(np.argmax(probabilities, axis=1) == test_labels)),
        "load_seconds": load_seconds,
        "predict_seconds": first_seconds,
        "predict_images_per_s": n_test / first_seconds,
        "warm_predict_seconds": warm_seconds,
        "warm_predict_images_per_s": n_test / warm_seconds,
        "single_image_ms": statistics.median(single_ms),
        "single_calls": args.single_calls,
        "torch_threads": torch.get_num_threads(),  # torch's default: this section sets none
    }
    print("RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
