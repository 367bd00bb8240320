"""Classify many image files: expand files, directories and globs, then read and classify them in batches.

Every input gives exactly one `Prediction`, in input order, and a bad input never stops
the others: a missing file, a folder with no images, a file that is empty, truncated,
not an image, in a format we do not read, too big or with too many pixels each gives a
prediction with a one-line `error` and no class. This is the library behind
`attire predict`; it is torch-free (the model runs in the Classifier's engine).
"""

import glob
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from attire.errors import AttireError
from attire.images import preprocess_photo, read_image

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
                   keep_photos: bool = False) -> Iterator[Prediction]:
    """One Prediction per input, in input order, `batch_size` inputs at a time.

    `keep_photos` keeps a small copy of each photo (for pictures of the predictions);
    memory stays bounded by the batch either way.
    """
    if batch_size < 1 or top_k < 1:
        raise ValueError(f"batch_size and top_k must be at least 1, got {batch_size} and {top_k}")
    for start in range(0, len(inputs), batch_size):
        yield from classify_batch(classifier, inputs[start:start + batch_size], top_k, keep_photos)


def classify_batch(classifier, inputs: list[Input], top_k: int = TOP_K,
                   keep_photos: bool = False) -> list[Prediction]:
    """Read every input, then classify all the readable ones in one call to the model."""
    predictions = [read_input(item, keep_photos) for item in inputs]
    readable = [p for p in predictions if p.error is None]
    if readable:
        probabilities = classifier.predict_proba(np.stack([p.view for p in readable]))  # (n, classes)
        for prediction, row in zip(readable, probabilities):
            fill_in(prediction, row, classifier.classes_, top_k)
    return predictions


def read_input(item: Input, keep_photo: bool) -> Prediction:
    """The model's view of one input, or its error."""
    if item.error is not None:
        return Prediction(item.path, error=item.error)
    try:
        image = read_image(item.path)
        view = preprocess_photo(image)
    except AttireError as e:
        return Prediction(item.path, error=one_line(e))
    except Exception as e:  # noqa: BLE001 - one odd file must not cost the rest of a long batch
        return Prediction(item.path, error=f"{item.path}: unexpected {type(e).__name__} while reading it "
                                           f"({one_line(e)}); please report this with the file")
    photo = None
    if keep_photo:
        photo = image.copy()
        photo.thumbnail((THUMBNAIL_PX, THUMBNAIL_PX))
    return Prediction(item.path, view=view, photo=photo)


def fill_in(prediction: Prediction, probabilities: np.ndarray, classes: tuple[str, ...], top_k: int) -> None:
    order = np.argsort(-probabilities, kind="stable")[:top_k]
    prediction.probabilities = probabilities
    prediction.class_index = int(order[0])
    prediction.label = classes[order[0]]
    prediction.probability = float(probabilities[order[0]])
    prediction.top_k = [(classes[i], float(probabilities[i])) for i in order]


def one_line(error: BaseException) -> str:
    return " ".join(str(error).split())
