"""Photo accuracy: the default model on test images dressed up as product photos, vs on the images themselves.

    python benchmarks/photo_accuracy.py                 # 2,000 test images, seed 0
    python benchmarks/photo_accuracy.py --repeats 3     # seeds 0, 1, 2: a different sample each
    python benchmarks/photo_accuracy.py --smoke         # 100 images, a harness check

Each test image is rendered by attire.photos as a product photo (200-900 px, a dark
garment of a random colour on a white, grey or beige background, uneven margins, noise,
a soft shadow, uneven light), encoded as JPEG (quality 70-95) or, one in four, PNG, and
classified from the encoded bytes or, one in three, from a file, through
`Classifier.load()`: the whole path a user's photo takes. The same images are also
classified as they are. The gap between the two accuracies is what the photo path
(decode, trim, resize, sharpen, negate) costs; what attire.photos does not simulate
(folds, texture, people, clutter) is not in it. `naive_accuracy` is the usual shortcut
for comparison: the whole photo squeezed to 28×28 and negated, without the trim.

In `make bench` (section `photos`), run.py runs this file as one process with one seed
per repeat; it prints its table and a `RESULT {json}` line. `benchmark(repeats, smoke)`
measures in-process, one row a repeat.
"""

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from common import REPO, Bench, Section, fmt, markdown_table, median, process_table, run_script

sys.path.insert(0, str(REPO))  # this checkout's attire

from attire.photos import encode_photo, render_product_photo  # noqa: E402

SECTION = "photos"

N_IMAGES = 2000       # test images per repeat
SMOKE_IMAGES = 100
PNG_EVERY = 4         # one photo in this many is a PNG, the rest JPEG
FILE_EVERY = 3        # one photo in this many is classified from a file, the rest from bytes
CHUNK = 200           # photos held in memory at once
COLUMNS = ("seed", "n_images", "plain_accuracy", "photo_accuracy", "drop_points", "jpeg_accuracy",
           "png_accuracy", "agreement", "naive_accuracy", "photos_per_s")


def measure(classifier, images: np.ndarray, labels: np.ndarray, seed: int, scratch: Path) -> dict:
    """Accuracy on `images` (N, 28, 28) as they are and as rendered product photos."""
    rng = np.random.default_rng(seed)
    photo_predicted, naive_predicted, is_png, seconds = [], [], [], 0.0
    for start in range(0, len(images), CHUNK):  # a PNG of a 900 px photo is about a megabyte
        sources, naive_views = [], []
        for i in range(start, min(start + CHUNK, len(images))):
            png = i % PNG_EVERY == 0
            photo = render_product_photo(images[i], rng)
            # The usual shortcut, for comparison: squeeze the whole photo to 28×28 and negate it.
            naive_views.append(255 - np.asarray(photo.convert("L").resize((28, 28), Image.Resampling.BILINEAR)))
            data = encode_photo(photo, rng, file_format="PNG" if png else "JPEG")
            if i % FILE_EVERY == 0:  # with PNG_EVERY = 4, files of both formats
                path = scratch / f"photo-{seed}-{i}.{'png' if png else 'jpg'}"
                path.write_bytes(data)
                data = path
            sources.append(data)
            is_png.append(png)
        clock = time.perf_counter()  # what a user's photos cost: decode, preprocess, classify
        photo_predicted.extend(classifier.predict_proba(sources).argmax(1))
        seconds += time.perf_counter() - clock
        naive_predicted.extend(classifier.predict_proba(np.stack(naive_views)).argmax(1))
    plain_predicted = classifier.predict_proba(images).argmax(1)
    photo_predicted, naive_predicted, is_png = np.array(photo_predicted), np.array(naive_predicted), np.array(is_png)
    photo_right, plain_right = photo_predicted == labels, plain_predicted == labels
    return {
        "seed": seed,
        "n_images": len(images),
        "plain_accuracy": float(plain_right.mean()),
        "photo_accuracy": float(photo_right.mean()),
        "drop_points": float(100 * (plain_right.mean() - photo_right.mean())),
        "jpeg_accuracy": float(photo_right[~is_png].mean()),
        "png_accuracy": float(photo_right[is_png].mean()),
        "agreement": float((photo_predicted == plain_predicted).mean()),  # same class either way
        "naive_accuracy": float((naive_predicted == labels).mean()),
        "photos_per_s": len(images) / seconds,  # decode, preprocess and classify; rendering not counted
    }


def sample(test_labels: np.ndarray, n_images: int, seed: int) -> np.ndarray:
    """`n_images` test-set indices, drawn without replacement by `seed`."""
    return np.random.default_rng(seed).choice(len(test_labels), n_images, replace=False)


def benchmark(repeats: int = 1, smoke: bool = False, n_images: int | None = None, model: str | None = None,
        data_dir: str | None = None) -> list[dict]:
    """One row per repeat (seed 0, 1, ...): plain vs photo accuracy of `model` (default: the shipped one)."""
    from attire import Classifier, load_data

    classifier = Classifier.load(model)
    test_images, test_labels = load_data(data_dir, progress=False)[1]
    n_images = n_images or (SMOKE_IMAGES if smoke else N_IMAGES)
    rows = []
    with tempfile.TemporaryDirectory(prefix="attire-photos-") as scratch:
        for seed in range(repeats):
            chosen = sample(test_labels, n_images, seed)
            rows.append(measure(classifier, test_images[chosen], test_labels[chosen], seed, Path(scratch)))
    return rows


def summary_table(rows: list[dict]) -> list[list[str]]:
    """One line per seed, and their medians when there are several."""
    def percent(value):
        return fmt(None if value is None else 100 * value, ".1f")
    def line(label, row):
        return [label, fmt(row["n_images"], ",.0f"), percent(row["plain_accuracy"]),
                percent(row["photo_accuracy"]), fmt(row["drop_points"], "+.1f"),
                percent(row["jpeg_accuracy"]), percent(row["png_accuracy"]), percent(row["agreement"]),
                percent(row["naive_accuracy"]), fmt(row["photos_per_s"], ".0f")]
    table = [["seed", "test images", "as they are %", "as photos %", "drop, points", "JPEG %", "PNG %",
              "same class %", "squeezed and negated %", "photos/s"]]
    table += [line(str(row["seed"]), row) for row in rows]
    if len(rows) > 1:
        table.append(line("median", {key: median(row[key] for row in rows) for key in COLUMNS}))
    return table


NOTES = ["Each test image rendered as a product photo (attire.photos), encoded as JPEG or, one in "
         f"{PNG_EVERY}, PNG, classified from bytes or, one in {FILE_EVERY}, from a file, through "
         "`Classifier.load()`. drop: as they are minus as photos. same class: photo and image "
         "classified alike. squeezed and negated: the whole photo resized to 28×28 and negated, "
         "the shortcut without the trim. photos/s: decode, preprocess and classify, rendering not counted."]


def run(bench: Bench) -> Section:
    args = ["--repeats", str(bench.repeats), "--data-dir", str(bench.data_dir)]
    args += ["--model", str(bench.attire_model)] if bench.attire_model else []
    args += ["--smoke"] if bench.smoke else []
    print("photos: rendering and classifying product photos ...", flush=True)
    outcome = run_script(bench, SECTION, "photos", "photo_accuracy.py", args)
    rows = outcome.result.get("rows", [])
    print("  " + ("ok" if outcome.ok else f"FAILED: {outcome.error}"), flush=True)
    notes = [f"Model: {bench.attire_model or 'the shipped default model'}; one seed (a different "
             f"sample of test images) per repeat.", *NOTES]
    if bench.smoke:
        notes.append(f"SMOKE RUN: {SMOKE_IMAGES} images; figures mean nothing.")
    return Section("Accuracy on product-style photos against the plain test images",
                   summary_table(rows) if rows else [["seed"], ["failed: see the process below"]],
                   process_table([outcome]), notes, failures=int(not outcome.ok))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=1, help="samples, seeds 0, 1, ... (default: 1)")
    parser.add_argument("--smoke", action="store_true", help=f"{SMOKE_IMAGES} images: checks the harness")
    parser.add_argument("--n", type=int, help=f"test images per repeat (default: {N_IMAGES})")
    parser.add_argument("--model", help="run directory or model file (default: the shipped default model)")
    parser.add_argument("--data-dir", help="directory with the Fashion-MNIST files (default: search)")
    args = parser.parse_args(argv)
    rows = benchmark(args.repeats, args.smoke, args.n, args.model, args.data_dir)
    print(markdown_table(summary_table(rows)), *NOTES, sep="\n\n")
    print("RESULT " + json.dumps({"rows": rows}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
