"""Classify many image files: expand files, directories and globs, then read and classify them in batches
(read in worker processes with `workers`, see attire.batch).

Every input gives exactly one `Prediction`, in input order, and a bad input never stops
the others: a missing file, a folder with no images, a file that is empty, truncated,
not an image, in a format we do not read, too big or with too many pixels each gives a
prediction with a one-line `error` and no class. This is the library behind
`attire predict`; it is torch-free (the model runs in the Classifier's engine).
"""

import collections
import contextlib
import glob
import os
from dataclasses import dataclass, field
from typing import Iterable, Iterator

import numpy as np

from attire.batch import Batch, iter_preprocessed
from attire.errors import AttireError
from attire.images import read_image

# The suffixes a directory's image files are found by (any case). A file named on the
# command line is read whatever its suffix: its content decides.
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".webp", ".bmp", ".dib", ".gif", ".tif", ".tiff")
GLOB_CHARACTERS = frozenset("*?[")
BATCH_SIZE = 256      # images read and classified together: one engine call each
TOP_K = 3             # classes reported per image, the most likely first
THUMBNAIL_PX = 300    # a kept photo's long side: pictures draw it under 2 inches wide at 100 dpi


@dataclass
class Input:
    path: str                    # as given, or found under a given directory
    error: str | None = None     # known before reading: a directory with no images, a glob matching nothing


@dataclass
class Prediction:
    path: str
    label: str | None = None               # the most likely class name; None when `error`
    class_index: int | None = None
    probability: float | None = None       # of `label`
    top_k: list[tuple[str, float]] = field(default_factory=list)  # (class name, probability), likeliest first
    error: str | None = None               # one line saying what went wrong and what to do
    probabilities: np.ndarray | None = field(default=None, repr=False)  # (classes,), all of them
    view: np.ndarray | None = field(default=None, repr=False)           # (28, 28) uint8, what the model saw
    photo: object | None = field(default=None, repr=False)              # a PIL thumbnail, when asked for

    def to_dict(self) -> dict:
        """The JSON Lines object of `attire predict --json`."""
        if self.error is not None:
            return {"path": self.path, "error": self.error}
        return {"path": self.path, "label": self.label, "class_index": self.class_index,
                "probability": round(self.probability, 6),
                "top_k": [{"label": name, "probability": round(p, 6)} for name, p in self.top_k]}


# ---------------------------------------------------------------- finding the inputs

def expand_inputs(paths: Iterable[str | os.PathLike]) -> list[Input]:
    """Files as given, directories as the image files under them (sorted), globs as their matches.

    A pattern is expanded here too (with `**` for any depth), for shells that do not; its
    matches are treated as if named one by one. Hidden files and folders (a leading dot:
    .DS_Store, macOS's ._photo.jpg copies) are skipped inside directories. A path that
    does not exist stays an input, and reading it gives its error.
    """
    inputs: list[Input] = []
    for given in paths:
        text = os.fspath(given)
        if not os.path.lexists(text) and GLOB_CHARACTERS & set(text):
            matches = sorted(glob.glob(text, recursive=True))
            if not matches:
                inputs.append(Input(text, f"{text}: no file matches this pattern; check it, or quote it "
                                          "so that the shell leaves it to attire"))
            for match in matches:
                inputs.extend(expand_path(match))
        else:
            inputs.extend(expand_path(text))
    return inputs


def expand_path(path: str) -> list[Input]:
    if not os.path.isdir(path):
        return [Input(path)]
    found = find_images(path)
    if not found:
        return [Input(path, f"{path}: a directory with no image files in it or below it (looked for "
                            f"{', '.join(IMAGE_SUFFIXES)}, any case)")]
    return found


def find_images(directory: str) -> list[Input]:
    """The image files under `directory`, depth first in name order; unreadable folders are errors."""
    found: list[Input] = []

    def unreadable(error: OSError) -> None:
        found.append(Input(error.filename, f"{error.filename}: the folder cannot be listed "
                                           f"({error.strerror}); check its permissions"))

    for folder, subfolders, files in os.walk(directory, onerror=unreadable):
        subfolders[:] = sorted(name for name in subfolders if not name.startswith("."))
        found.extend(Input(os.path.join(folder, name)) for name in sorted(files)
                     if is_image_name(name) and not name.startswith("."))
    return found


def is_image_name(name: str) -> bool:
    return os.path.splitext(name)[1].lower() in IMAGE_SUFFIXES


# ---------------------------------------------------------------- classifying

def classify_paths(classifier, inputs: list[Input], batch_size: int = BATCH_SIZE, top_k: int = TOP_K,
                   keep_photos: bool = False, workers: int = 0) -> Iterator[Prediction]:
    """One Prediction per input, in input order, `batch_size` readable inputs at a time.

    Photos are decoded and preprocessed by `workers` processes (0: in this one) while the
    model classifies the batch before; the predictions are the same either way. Inputs that
    failed to expand (a glob matching nothing) never reach the workers and keep their error.
    `keep_photos` reads each classified photo again here for a small copy of it (for
    pictures of the predictions); memory stays bounded by a few batches either way.
    """
    if batch_size < 1 or top_k < 1:
        raise ValueError(f"batch_size and top_k must be at least 1, got {batch_size} and {top_k}")
    readable = [item.path for item in inputs if item.error is None]
    with contextlib.closing(iter_preprocessed(readable, workers, batch_size)) as batches:  # stops the pool early
        ready: collections.deque[Prediction] = collections.deque()
        for item in inputs:
            if item.error is not None:
                yield Prediction(item.path, error=item.error)
                continue
            if not ready:
                ready.extend(classify_batch(classifier, next(batches), top_k, keep_photos))
            yield ready.popleft()


def classify_batch(classifier, batch: Batch, top_k: int = TOP_K, keep_photos: bool = False) -> list[Prediction]:
    """Classify the readable inputs of one preprocessed batch in one call to the model."""
    predictions = [Prediction(path, error=error) for path, error in zip(batch.paths, batch.errors)]
    readable = [row for row, error in enumerate(batch.errors) if error is None]
    if readable:
        probabilities = classifier.predict_proba(batch.views[readable])  # (n, classes)
        for row, row_probabilities in zip(readable, probabilities):
            prediction = predictions[row]
            prediction.view = batch.views[row]
            fill_in(prediction, row_probabilities, classifier.classes_, top_k)
            if keep_photos:
                prediction.photo = thumbnail(prediction.path)
    return predictions


def thumbnail(path: str):
    """A small copy of the photo at `path`, or None if it can no longer be read (the picture goes without)."""
    try:
        photo = read_image(path)
    except AttireError:
        return None
    photo.thumbnail((THUMBNAIL_PX, THUMBNAIL_PX))
    return photo


def fill_in(prediction: Prediction, probabilities: np.ndarray, classes: tuple[str, ...], top_k: int) -> None:
    order = np.argsort(-probabilities, kind="stable")[:top_k]
    prediction.probabilities = probabilities
    prediction.class_index = int(order[0])
    prediction.label = classes[order[0]]
    prediction.probability = float(probabilities[order[0]])
    prediction.top_k = [(classes[i], float(probabilities[i])) for i in order]

