"""`attire data`: find (or download) Fashion-MNIST, verify it, and describe what is there."""

import argparse
import json

import numpy as np


def add_data_options(parser: argparse.ArgumentParser) -> None:
    """--data-dir and --mirror, for every command that reads Fashion-MNIST."""
    parser.add_argument(
        "--data-dir", metavar="DIR", default=None,
        help="folder holding the four Fashion-MNIST files, gzipped or not (default: $ATTIRE_DATA_DIR, "
             "else the user cache, /usr/share/datasets/fashion-mnist, else download into the cache)")
    parser.add_argument(
        "--mirror", metavar="URL", default=None,
        help="download from this URL instead (default: $ATTIRE_DATA_MIRROR, else the official mirrors)")


def register(subparsers, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser(
        "data", parents=[common], help="find, download and verify Fashion-MNIST, and describe it",
        description="Find Fashion-MNIST (or download it into the user cache), check every file's "
                    "SHA-256 and print where it is, the array shapes, the pixel range and the "
                    "number of images per class.")
    add_data_options(parser)
    parser.add_argument("--json", action="store_true",
                        help="print one JSON object instead of text (default: text)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from attire.data import locate_data, read_data

    location = locate_data(args.data_dir, mirror=args.mirror)
    train, test = read_data(location)
    summary = describe(location, train, test)
    if args.json:
        print(json.dumps(summary))
    else:
        print(format_summary(summary))
    return 0


def describe(location, train, test) -> dict:
    """Everything `attire data` reports, as plain JSON-ready values."""
    from attire.data import CLASS_NAMES

    def split(images, labels):
        counts = np.bincount(labels, minlength=len(CLASS_NAMES))
        return {"shape": list(images.shape), "labels_shape": list(labels.shape),
                "dtype": str(images.dtype),
                "class_counts": {name: int(n) for name, n in zip(CLASS_NAMES, counts)}}

    return {
        "location": str(location.directory),
        "source": location.source,
        "verified": location.verified,
        "files": {name: str(path) for name, path in location.files.items()},
        "train": split(*train),
        "test": split(*test),
        "pixel_range": [int(min(train[0].min(), test[0].min())), int(max(train[0].max(), test[0].max()))],
    }


def format_summary(summary: dict) -> str:
    check = "verified (SHA-256 of every file matches)" if summary["verified"] else "NOT verified"
    train, test = summary["train"], summary["test"]
    low, high = summary["pixel_range"]
    lines = [
        f"Fashion-MNIST in {summary['location']} ({summary['source']}), {check}",
        f"train images {tuple(train['shape'])} {train['dtype']}, labels {tuple(train['labels_shape'])}",
        f"test images  {tuple(test['shape'])} {test['dtype']}, labels {tuple(test['labels_shape'])}",
        f"pixel values {low} to {high}",
        "",
        f"   {'class':<12} {'train':>6} {'test':>6}",
    ]
    for number, name in enumerate(train["class_counts"]):
        lines.append(f"{number:>2} {name:<12} {train['class_counts'][name]:>6} {test['class_counts'][name]:>6}")
    return "\n".join(lines)
