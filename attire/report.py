"""The report of a training run: nine pictures, and one self-contained HTML page gathering them.

`write_report(run_dir)` reads what `attire train` left (config.json, history.csv,
metrics.json, model.safetensors), evaluates the model once on the test set, draws the
pictures into run_dir/pictures/ and writes run_dir/report.html: the pictures embedded as
data URIs and the style inline, so the page can be mailed or opened offline.
"""

import csv
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from attire import fileio
from attire.checkpoint import load_model
from attire.data import CLASS_NAMES, load_data
from attire.errors import RunError
from attire.evaluation import logits_and_features
from attire.models import count_parameters
from attire.plots import sample_grid
from attire.plots_predictions import confident_mistakes, prediction_grid, probability_bars_grid
from attire.plots_run import confusion_matrix, embedding_map, learning_curves, per_class_accuracy
from attire.report_page import PICTURES_DIR, render_page
from attire.training import CHECKPOINT

REPORT_FILE = "report.html"
RUN_FILES = ("config.json", "history.csv", "metrics.json", "model.safetensors")
GRID = (5, 5)             # rows, columns of the prediction grids (the tutorial shows 25 images)
RANDOM_SEED = 0           # picks the random sample of test images, the same one every time
N_BAR_EXAMPLES = 3        # right and, separately, wrong test images shown with probability bars


@dataclass
class RunRecord:
    """What a finished run left on disk."""
    dir: Path
    config: dict
    metrics: dict
    history: list[dict]


@dataclass
class Picture:
    path: Path
    heading: str
    caption: str


@dataclass
class TestResults:
    images: np.ndarray          # (N, 28, 28) uint8
    labels: np.ndarray          # (N,) class numbers
    probabilities: np.ndarray   # (N, classes)
    features: np.ndarray        # (N, D) the input of the model's last linear layer
    notes: list[str] = field(default_factory=list)   # warnings shown at the top of the page

    def subset(self, indices) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Images, labels and probabilities of the chosen test images."""
        return self.images[indices], self.labels[indices], self.probabilities[indices]


def write_report(run_dir: str | Path, data_dir: str | Path | None = None) -> Path:
    """Draw a run's pictures into run_dir/pictures/ and write run_dir/report.html; returns its path.

    The test set is loaded from `data_dir`, or else from where the run's config found it.
    """
    start = time.perf_counter()
    run = read_run(run_dir)
    model, info = load_model(run.dir / "model.safetensors")
    # Where the run trained, as a rule: the final test metrics it recorded were measured there.
    device = "cuda" if torch.cuda.is_available() and run.config.get("device") != "cpu" else "cpu"
    model = model.to(device, memory_format=torch.channels_last)  # convolutions twice as fast on a CPU
    class_names = tuple(info.get("class_names", CLASS_NAMES))
    (train_images, train_labels), (test_images, test_labels) = load_data(
        data_dir if data_dir is not None else run.config.get("data_dir"),
        verify=run.config.get("verify_data", True), progress=False)
    logits, features = logits_and_features(model, test_images)
    test = TestResults(test_images, test_labels.astype(np.int64), torch.softmax(logits, 1).numpy(),
                       features.numpy())
    accuracy = float((test.probabilities.argmax(1) == test.labels).mean())
    recorded = run.metrics.get("accuracy")
    if recorded is not None and abs(accuracy - recorded) > 0.5 / max(len(test.labels), 1):
        test.notes.append(f"The pictures come from a new evaluation on the test set, whose accuracy "
                          f"({accuracy:.2%}) differs from the one recorded at training time "
                          f"({recorded:.2%}): the test data is probably not the one the run used.")
    pictures = draw_pictures(run, test, train_images, train_labels, class_names)
    page = render_page(run, pictures, test, count_parameters(model), seconds=time.perf_counter() - start)
    path = run.dir / REPORT_FILE
    fileio.write_text(path, page)
    return path


# ---------------------------------------------------------------- the run directory

def read_run(run_dir: str | Path) -> RunRecord:
    """The config, metrics and history of a finished run; a RunError says why a directory is not one."""
    run_dir = Path(run_dir)
    if not run_dir.exists():
        raise RunError(f"run directory {run_dir} does not exist: pass a directory written by `attire train`")
    if not run_dir.is_dir():
        raise RunError(f"{run_dir} is a file, not a run directory: pass the directory `attire train` wrote")
    missing = [name for name in RUN_FILES if not (run_dir / name).is_file()]
    if missing and (run_dir / CHECKPOINT).is_file():
        raise RunError(f"{run_dir} holds a run that did not finish: complete it with "
                       f"`attire train --resume {run_dir}`, then make its report")
    if len(missing) == len(RUN_FILES):
        raise RunError(f"{run_dir} is not a training run: it has none of the files `attire train` writes "
                       f"({', '.join(RUN_FILES)}); pass a run directory, such as runs/<date-time>-<model>")
    if missing:
        raise RunError(f"{run_dir} is not a finished training run: it has no {', '.join(missing)} "
                       f"(a run directory written by `attire train` holds {', '.join(RUN_FILES)})")
    return RunRecord(run_dir, read_json(run_dir / "config.json"), read_json(run_dir / "metrics.json"),
                     read_history(run_dir / "history.csv"))


def read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise RunError(f"{path} is not valid JSON ({e}): the run directory is damaged; train again") from None


def read_history(path: Path) -> list[dict]:
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows or "epoch" not in rows[0]:
        raise RunError(f"{path} holds no epochs: the run directory is damaged; train again")
    return rows


# ---------------------------------------------------------------- pictures

def draw_pictures(run: RunRecord, test: TestResults, train_images, train_labels, class_names) -> list[Picture]:
    out = run.dir / PICTURES_DIR
    rows, cols = GRID
    n_shown = min(rows * cols, len(test.labels))
    first = np.arange(n_shown)
    random_sample = np.random.default_rng(RANDOM_SEED).choice(len(test.labels), n_shown, replace=False)
    predicted = test.probabilities.argmax(1)
    right = np.flatnonzero(predicted == test.labels)[:N_BAR_EXAMPLES]
    wrong = np.flatnonzero(predicted != test.labels)[:N_BAR_EXAMPLES]
    # Right ones in the left column, wrong ones in the right, when there are as many of each.
    examples = (np.column_stack([right, wrong]).ravel() if len(right) == len(wrong)
                else np.concatenate([right, wrong]))
    n_classes = len(class_names)
    confusion = np.bincount(test.labels * n_classes + predicted, minlength=n_classes ** 2).reshape(n_classes, -1)
    support = confusion.sum(1)
    recalls = np.divide(np.diag(confusion), support, out=np.zeros(n_classes), where=support > 0)
    accuracy = float((predicted == test.labels).mean())

    def predictions(indices, name, title):
        return prediction_grid(*test.subset(indices), out / name, rows, cols, title, class_names)

    return [
        Picture(sample_grid(train_images, train_labels, out / "samples.png", rows, cols,
                            f"The first {rows * cols} training images", class_names),
                "Training images", "The first training images with their classes, as the tutorial shows them."),
        Picture(predictions(first, "predictions-first.png", f"Predictions on the first {n_shown} test images"),
                "Predictions on the first test images",
                "Each test image with “true class → predicted class (probability)”: green when the "
                "model is right, red when it is wrong."),
        Picture(predictions(random_sample, "predictions-random.png",
                            f"Predictions on {n_shown} random test images (seed {RANDOM_SEED})"),
                "Predictions on a random sample",
                f"{n_shown} test images drawn at random (always the same ones), so that the first images "
                "are not the only evidence."),
        Picture(probability_bars_grid(*test.subset(examples), out / "probabilities.png",
                                      title="Class probabilities: first right predictions (left), "
                                            "first mistakes (right)", class_names=class_names),
                "Class probabilities",
                "The probability the model gives each class, for the first test images it gets right and "
                "the first it gets wrong: the predicted class in green (right) or red (wrong), the true "
                "class in green."),
        Picture(learning_curves(run.history, out / "learning-curves.png"),
                "Learning curves", learning_curves_caption(run.config)),
        Picture(per_class_accuracy(recalls, out / "per-class-accuracy.png", class_names, accuracy),
                "Accuracy per class",
                "The share of each class's test images that the model recognises (recall), sorted; "
                "the dashed line is the overall accuracy, the classes below it in orange."),
        Picture(confusion_matrix(confusion, out / "confusion-matrix.png", class_names),
                "Confusion matrix",
                "Where the test images of each true class (rows) went (columns): counts on the left, "
                "shares of the row on the right. Off the diagonal are the mistakes."),
        Picture(confident_mistakes(*test.subset(slice(None)), out / "confident-mistakes.png",
                                   class_names=class_names),
                "The most confident mistakes",
                "Wrongly classified test images the model was surest of: often ambiguous images, "
                "sometimes wrong labels."),
        Picture(embedding_map(test.features, test.labels, out / "embedding-map.png", class_names),
                "Embedding map",
                "Every test image as a point: the features the last layer classifies, projected to two "
                "dimensions by principal component analysis and coloured by true class. Classes the "
                "network confuses overlap."),
    ]


def learning_curves_caption(config: dict) -> str:
    caption = ("Loss and accuracy after each epoch, on the training images and (when the run held some out) "
               "the validation images. A validation loss that rises while the training loss falls means "
               "overfitting.")
    # Why the training curves may sit below the validation ones, which surprises readers.
    handicaps = ["they are averaged over the epoch while the weights still change"]
    if config.get("augment"):
        handicaps.append("the training images are randomly flipped and shifted")
    if config.get("label_smoothing"):
        handicaps.append(f"the training loss includes label smoothing ({config['label_smoothing']})")
    if not config.get("val_size"):
        return caption + " This run held out no validation images."
    return caption + " The training figures are measured during training: " + "; ".join(handicaps) + "."
