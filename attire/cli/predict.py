"""`attire predict`: classify image files, folders and globs; a table, or JSON Lines with --json."""

import argparse
import json
import sys
from pathlib import Path

from attire.engines import ENGINES

FILE_COLUMN_MAX = 60  # characters; longer paths push their row's other columns right


def register(subparsers, common) -> None:
    from attire.batch_predict import BATCH_SIZE, TOP_K

    parser = subparsers.add_parser(
        "predict", parents=[common], help="classify image files, folders or globs",
        description="Classify photos or dataset images. Each input gives one row (or one JSON line), "
                    "in input order; an input that cannot be read gives its error there and the others "
                    "are still classified, but the exit status is then 1. Photos are preprocessed as "
                    "the Fashion-MNIST images were (trimmed, resized to 28×28, negated).")
    parser.add_argument("paths", nargs="+", metavar="PATH",
                        help="image files, directories (searched recursively for image files by "
                             "their suffix) or glob patterns such as 'photos/**/*.jpg'")
    parser.add_argument("--model", help="run directory, .safetensors or .onnx file "
                                        "(default: the pretrained model shipped with attire)")
    parser.add_argument("--engine", choices=ENGINES,
                        help="inference engine (default: onnx for an .onnx model, else torch)")
    parser.add_argument("--top-k", type=positive_int, default=TOP_K, metavar="K",
                        help=f"classes shown per image, the likeliest first (default: {TOP_K})")
    parser.add_argument("--json", action="store_true",
                        help="print JSON Lines, one object per input: {path, label, class_index, "
                             "probability, top_k} or {path, error}")
    parser.add_argument("--show", metavar="DIR",
                        help="also write a picture per image into DIR: the photo, the model's 28×28 "
                             "view and the probabilities")
    parser.add_argument("--batch-size", type=positive_int, default=BATCH_SIZE, metavar="B",
                        help=f"images read and classified at a time (default: {BATCH_SIZE})")
    parser.add_argument("--workers", type=non_negative_int, default=0, metavar="N",
                        help="processes that decode and preprocess photos while the model classifies the "
                             "batch before; the output is the same. Worth it for many large photos on a "
                             "machine with idle cores, for example --workers 4 (default: 0, in this process)")
    parser.add_argument("--shard", metavar="I/N",
                        help="classify only shard I of N (counted from 0): the inputs sorted by path, every "
                             "N-th from the I-th; N runs with I = 0 ... N-1 cover every input exactly once. "
                             "A shard's rows come out in that sorted order")
    parser.set_defaults(handler=run)


def positive_int(text: str) -> int:
    return whole_number(text, minimum=1)


def non_negative_int(text: str) -> int:
    return whole_number(text, minimum=0)


def whole_number(text: str, minimum: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
    return value


def run(args) -> int:
    from tqdm import tqdm

    from attire.batch import shard
    from attire.batch_predict import classify_paths, expand_inputs
    from attire.predict import Classifier

    classifier = Classifier.load(args.model, engine=args.engine)  # a bad model: one error, before any work
    inputs = expand_inputs(args.paths)
    if args.shard is not None:  # after expanding: a folder's files are spread over the shards, not the folder
        inputs = shard(inputs, args.shard, key=lambda item: item.path)
    show_dir = Path(args.show) if args.show else None
    if show_dir is not None:
        show_dir.mkdir(parents=True, exist_ok=True)
    file_width = min(FILE_COLUMN_MAX, max([len("file"), *(len(item.path) for item in inputs)]))
    if not args.json:
        print(f"{'file':<{file_width}}  {'class':<11}  {'prob':>6}  next best")
    progress = not args.json and sys.stderr.isatty()
    failed = 0
    picture_names: set[str] = set()
    predictions = classify_paths(classifier, inputs, args.batch_size, args.top_k,
                                 keep_photos=show_dir is not None, workers=args.workers)
    with tqdm(total=len(inputs), unit="image", file=sys.stderr, disable=not progress, leave=False) as bar:
        for prediction in predictions:
            failed += prediction.error is not None
            if show_dir is not None and prediction.error is None:
                write_picture(prediction, show_dir, picture_names, classifier.classes_)
            line = json.dumps(prediction.to_dict()) if args.json else table_row(prediction, file_width)
            tqdm.write(line, file=sys.stdout)  # above the bar, which stays at the bottom
            bar.update(1)
    if failed:
        print(f"attire: {failed} of {len(inputs)} inputs could not be classified", file=sys.stderr)
    return 1 if failed else 0


def table_row(prediction, file_width: int) -> str:
    path = f"{prediction.path:<{file_width}}"
    if prediction.error is not None:
        # The message starts with the path, already in the first column.
        message = prediction.error.removeprefix(f"{prediction.path}: ")
        return f"{path}  error: {message}"
    others = ", ".join(f"{name} {probability:.1%}" for name, probability in prediction.top_k[1:])
    return f"{path}  {prediction.label:<11}  {prediction.probability:>6.1%}  {others}".rstrip()


def write_picture(prediction, directory: Path, taken: set[str], class_names) -> Path:
    """DIR/<file name>.png; a name met before (same name in two folders) gets -2, -3... in input order."""
    from attire.plots_predictions import probability_bars

    stem = Path(prediction.path).stem or "image"
    name, number = f"{stem}.png", 1
    while name in taken:
        number += 1
        name = f"{stem}-{number}.png"
    taken.add(name)
    return probability_bars(prediction.view, prediction.probabilities, directory / name, photo=prediction.photo,
                            title=Path(prediction.path).name, class_names=class_names)
