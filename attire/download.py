"""Downloads with pooch that never leave a partial or unverified file behind.

Each file is downloaded into a private staging folder, checked by the SHA-256 of
its decompressed content, and only then renamed into the destination (a rename
within one file system is atomic). Whatever fails, the staging folder is removed.
"""

import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

import pooch
import requests

from attire.checksums import check_sha256
from attire.errors import DatasetError
from attire.idx import gunzip

TIMEOUT_S = 60  # per network operation, not per file: a slow but live mirror keeps going
CHUNK_BYTES = 1 << 16


def fetch_gzipped(expected_sha256: dict[str, str], mirrors: list[str], destination: Path,
                  *, progress: bool = True) -> None:
    """Download `NAME.gz` for each NAME in `expected_sha256` into `destination`.

    Mirrors are tried in order for each file; a mirror that fails or serves wrong
    content is skipped. Raises DatasetError listing every mirror's failure when no
    mirror serves a good copy; files fetched before that stay (they are verified).
    """
    destination = Path(destination)
    destination.mkdir(parents=True, exist_ok=True)
    # Beside the destination, not in it, so a killed run leaves nothing among the data.
    staging = Path(tempfile.mkdtemp(dir=destination.parent, prefix=f".{destination.name}-download-"))
    try:
        for name, sha256 in expected_sha256.items():
            staged = _fetch_one(f"{name}.gz", sha256, mirrors, staging, progress)
            os.replace(staged, destination / staged.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _fetch_one(filename: str, sha256: str, mirrors: list[str], staging: Path, progress: bool) -> Path:
    failures = []
    for mirror in mirrors:
        url = mirror.rstrip("/") + "/" + filename
        staged = staging / filename
        try:
            _download(url, staged, progress)
            check_sha256(gunzip(staged.read_bytes(), source=url), sha256, url)
            return staged
        except requests.RequestException as e:
            failures.append(f"{url}: {describe_network_error(e)}")
        except DatasetError as e:
            failures.append(f"{e} (discarded)")
        staged.unlink(missing_ok=True)
    raise DatasetError(f"could not download {filename}: " + "; ".join(failures))


def _download(url: str, output: Path, progress: bool) -> None:
    if progress:
        print(f"Downloading {url}", file=sys.stderr)  # the bar alone would not say what it is
    pooch.HTTPDownloader(progressbar=progress, chunk_size=CHUNK_BYTES, timeout=TIMEOUT_S)(
        url, str(output), None)


def describe_network_error(error: requests.RequestException) -> str:
    """A short reason instead of urllib3's nested repr."""
    if isinstance(error, requests.HTTPError) and error.response is not None:
        return f"HTTP {error.response.status_code} {error.response.reason}"
    if isinstance(error, requests.Timeout):
        return f"no answer within {TIMEOUT_S} s"
    if isinstance(error, requests.ConnectionError):
        innermost = re.findall(r"\[Errno -?\d+\] ([^'\")\]]+)", str(error))
        return "cannot connect" + (f" ({innermost[-1].strip()})" if innermost else "")
    return f"{type(error).__name__}: {error}"
