"""Fashion-MNIST: where it comes from, how it is checked, and how it is loaded.

The one module that knows the dataset's files, checksums and mirrors. Data is
looked for, in order, in
  1. the folder given as `data_dir` (`--data-dir`) or by $ATTIRE_DATA_DIR,
  2. the user cache ($XDG_CACHE_HOME/attire/fashion-mnist, ~/.cache/... by default),
  3. the system folders in SYSTEM_DIRS (Debian's `dataset-fashion-mnist` package),
  4. the mirrors (or `mirror=` / `--mirror` / $ATTIRE_DATA_MIRROR), downloaded into the cache.
A folder given explicitly must hold the data: we never fall back from a choice the
user made. Every file is checked by the SHA-256 of its decompressed content.
"""

import contextlib
import os
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pooch

from attire.checksums import VerifiedFiles, check_sha256
from attire.download import fetch_gzipped
from attire.errors import DatasetError
from attire.idx import parse_idx, read_decompressed

CLASS_NAMES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
               "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
IMAGE_SIZE = 28  # pixels, height and width

# File name (without .gz) -> SHA-256 of its decompressed content.
RESOURCES = {
    "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
}
# Each serves RESOURCES as NAME.gz; tried in order.
MIRRORS = [
    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    "https://storage.googleapis.com/tensorflow/tf-keras-datasets/",
]
# Where system packages put the data (Debian/Ubuntu: apt-get install dataset-fashion-mnist).
# A list so that tests can point it elsewhere.
SYSTEM_DIRS = [Path("/usr/share/datasets/fashion-mnist")]

DATA_DIR_ENV = "ATTIRE_DATA_DIR"
MIRROR_ENV = "ATTIRE_DATA_MIRROR"

HOW_TO_GET_DATA = (
    "To fix it, do one of: "
    "(1) connect to the internet, or pass --mirror URL (or set ATTIRE_DATA_MIRROR) to a mirror you can reach; "
    "(2) sudo apt-get install dataset-fashion-mnist; "
    f"(3) put the four files ({', '.join(RESOURCES)}, each may end in .gz) in a folder "
    "and pass --data-dir FOLDER (or set ATTIRE_DATA_DIR)."
)

Split = tuple[np.ndarray, np.ndarray]  # (images (N, 28, 28) uint8, labels (N,) uint8)


@dataclass(frozen=True)
class DataLocation:
    directory: Path          # the folder that holds the four files
    source: str              # how it was found: "--data-dir", "$ATTIRE_DATA_DIR", "user cache", ...
    files: dict[str, Path]   # RESOURCES name -> its file there, gzipped or plain
    verified: bool           # every file's checksum was checked (now or earlier, unchanged since)


def cache_dir() -> Path:
    """The user cache folder for the data (follows XDG_CACHE_HOME on Linux)."""
    return Path(pooch.os_cache("attire")) / "fashion-mnist"


def load_data(data_dir: str | os.PathLike | None = None, *, mirror: str | None = None,
              verify: bool = True, progress: bool = True) -> tuple[Split, Split]:
    """Fashion-MNIST as `((x_train, y_train), (x_test, y_test))`, like Keras's loader.

    Images are uint8 arrays of shape (60000, 28, 28) and (10000, 28, 28), labels
    uint8 in 0..9. `verify=False` skips the checksums, to load a dataset of your own
    in the same format (still fully checked for structure). `progress` shows a
    progress bar when downloading.
    """
    return read_data(find_data(data_dir, mirror=mirror, progress=progress), verify=verify)


def locate_data(data_dir: str | os.PathLike | None = None, *, mirror: str | None = None,
                verify: bool = True, progress: bool = True) -> DataLocation:
    """Where the data is (downloading it if need be), its checksums checked unless `verify=False`."""
    location = find_data(data_dir, mirror=mirror, progress=progress)
    if not verify:
        return location
    record = _verification_record()
    for name, path in location.files.items():
        if not record.is_verified(path, RESOURCES[name]):
            with _remedy_on_error(location):
                check_sha256(read_decompressed(path), RESOURCES[name], path)
            record.remember(path, RESOURCES[name])
    record.save()
    return replace(location, verified=True)


def read_data(location: DataLocation, *, verify: bool = True) -> tuple[Split, Split]:
    """Read and check the files of `location`; see `load_data`."""
    record = _verification_record() if verify else None
    arrays = {}
    for name, path in location.files.items():
        with _remedy_on_error(location):
            content = read_decompressed(path)
            if record is not None and not record.is_verified(path, RESOURCES[name]):
                check_sha256(content, RESOURCES[name], path)
                record.remember(path, RESOURCES[name])
            arrays[name] = parse_idx(content, source=path)
    with _remedy_on_error(location):
        train = _check_split(arrays, "train", location)
        test = _check_split(arrays, "t10k", location)
    if record is not None:
        record.save()
    return train, test


def find_data(data_dir: str | os.PathLike | None = None, *, mirror: str | None = None,
              progress: bool = True) -> DataLocation:
    """The first place in the search order that holds all four files (not yet verified)."""
    mirrors = _chosen_mirrors(mirror)  # a bad --mirror is an error even when no download is needed
    if data_dir is None and os.environ.get(DATA_DIR_ENV):
        data_dir, source = os.environ[DATA_DIR_ENV], f"${DATA_DIR_ENV}"
    else:
        source = "--data-dir"  # or the data_dir argument: the same choice
    if data_dir is not None:
        return _explicit_location(Path(data_dir).expanduser(), source)

    tried = []
    for directory, source in [(cache_dir(), "user cache"), *((d, "system folder") for d in SYSTEM_DIRS)]:
        files = find_files(directory)
        if len(files) == len(RESOURCES):
            return DataLocation(directory, source, files, verified=False)
        tried.append(_describe_incomplete(directory, files))

    cache = cache_dir()
    missing = {name: sha for name, sha in RESOURCES.items() if name not in find_files(cache)}
    try:
        fetch_gzipped(missing, mirrors, cache, progress=progress)
    except (DatasetError, OSError) as e:
        raise DatasetError(
            f"Fashion-MNIST was not found and could not be downloaded. Looked in: {'; '.join(tried)}. "
            f"Download failed: {e}. {HOW_TO_GET_DATA}") from None
    return DataLocation(cache, "user cache (just downloaded)", find_files(cache), verified=False)


def find_files(directory: Path) -> dict[str, Path]:
    """The RESOURCES files present in `directory`, as NAME.gz or plain NAME."""
    found = {}
    for name in RESOURCES:
        for candidate in (directory / f"{name}.gz", directory / name):
            if candidate.is_file():
                found[name] = candidate
                break
    return found


def _explicit_location(directory: Path, source: str) -> DataLocation:
    # No fallback from here: a folder the user chose that lacks the data is a mistake to report.
    fix = ("Put the four files there (from a Fashion-MNIST mirror or Debian's dataset-fashion-mnist), "
           "or choose another folder, or leave the folder out to use the cache, the system package "
           "or a download.")
    if not directory.is_dir():
        raise DatasetError(f"the data folder {directory} (from {source}) does not exist "
                           f"or is not a folder. {fix}")
    files = find_files(directory)
    missing = [name for name in RESOURCES if name not in files]
    if missing:
        raise DatasetError(f"the data folder {directory} (from {source}) lacks {', '.join(missing)} "
                           f"(each as NAME.gz or NAME). {fix}")
    return DataLocation(directory, source, files, verified=False)


def _describe_incomplete(directory: Path, files: dict) -> str:
    if not directory.is_dir():
        return f"{directory} (no such folder)"
    if not files:
        return f"{directory} (no Fashion-MNIST files)"
    missing = [name for name in RESOURCES if name not in files]
    return f"{directory} (only {len(files)} of {len(RESOURCES)} files, lacks {', '.join(missing)})"


def _chosen_mirrors(mirror: str | None) -> list[str]:
    chosen = mirror or os.environ.get(MIRROR_ENV)
    mirrors = [chosen] if chosen else MIRRORS
    for url in mirrors:
        if not url.startswith(("http://", "https://")):
            raise DatasetError(f"mirror {url!r} is not an http:// or https:// URL; expected the "
                               f"folder URL that serves {next(iter(RESOURCES))}.gz etc., e.g. {MIRRORS[-1]}")
    return mirrors


def _verification_record() -> VerifiedFiles:
    return VerifiedFiles(cache_dir().parent / "verified-files.json")


def _check_split(arrays: dict, prefix: str, location: DataLocation) -> Split:
    images_name, labels_name = f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte"
    images, labels = arrays[images_name], arrays[labels_name]
    images_path, labels_path = location.files[images_name], location.files[labels_name]
    if images.ndim != 3 or images.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE):
        raise DatasetError(f"{images_path}: images of shape {images.shape}, "
                           f"expected (N, {IMAGE_SIZE}, {IMAGE_SIZE})")
    if labels.ndim != 1:
        raise DatasetError(f"{labels_path}: labels of shape {labels.shape}, expected (N,)")
    if len(images) != len(labels):
        raise DatasetError(f"{images_path} holds {len(images)} images but "
                           f"{labels_path} holds {len(labels)} labels; they must be equal")
    if len(labels) and labels.max() >= len(CLASS_NAMES):
        first_bad = int(np.argmax(labels >= len(CLASS_NAMES)))
        raise DatasetError(f"{labels_path}: label {labels[first_bad]} at index {first_bad}, "
                           f"expected 0 to {len(CLASS_NAMES) - 1}")
    return images, labels


@contextlib.contextmanager
def _remedy_on_error(location: DataLocation):
    """Append what to do, which depends on where the bad file lives, to a DatasetError."""
    try:
        yield
    except DatasetError as e:
        raise DatasetError(f"{e}. {_remedy(location)}") from None


def _remedy(location: DataLocation) -> str:
    if location.source.startswith("user cache"):
        return f"Delete it (or all of {location.directory}) and run `attire data` to download it again."
    if location.source == "system folder":
        return ("Reinstall the package (sudo apt-get install --reinstall dataset-fashion-mnist), "
                "or pass --data-dir to use another copy.")
    return ("Replace it with a good copy or choose another folder with --data-dir; "
            "for a dataset of your own in this format, load it with verify=False.")
