"""MNIST: locating or downloading the files, and the split protocol.

Orientation (kept everywhere in aezoo): a batch ``X`` is a float32 array of shape
``(n_samples, n_features)``; for MNIST ``n_features = 784`` (28x28 pixels, row-major)
and pixels are scaled to [0, 1] as ``uint8 / 255``. Labels ``y`` are int64 in 0..9,
shape ``(n_samples,)``.

Where the files come from, in order: an explicit directory, the ``AEZOO_DATA_DIR``
environment variable, then a cache directory (``AEZOO_CACHE_DIR``, else ``AEZOO_HOME``,
else the platform user cache, e.g. ``~/.cache/aezoo``; plus ``datasets/mnist``) that is
filled by download when files are missing. A directory you give is trusted as-is and validated by IDX header and size
(it may hold a subset of MNIST whose checksums differ from the official files);
downloaded files must match the official sha256 before they are moved into place.
"""

from __future__ import annotations

import functools
import hashlib
import http.client
import os
import tempfile
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import MappingProxyType

import numpy as np
import platformdirs
from tqdm.auto import tqdm

from aezoo._version import __version__
from aezoo.data.fingerprint import data_fingerprint as data_fingerprint  # moved; old import kept
from aezoo.data.idx import read_idx
from aezoo.errors import DataError

TRAIN_IMAGES = "train-images-idx3-ubyte.gz"
TRAIN_LABELS = "train-labels-idx1-ubyte.gz"
TEST_IMAGES = "t10k-images-idx3-ubyte.gz"
TEST_LABELS = "t10k-labels-idx1-ubyte.gz"

# sha256 of the official files (60,000 training / 10,000 test images), as recorded
# by TensorFlow Datasets (tensorflow_datasets/url_checksums/mnist.txt).
MNIST_FILES: Mapping[str, str] = MappingProxyType(
    {
        TRAIN_IMAGES: "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
        TRAIN_LABELS: "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
        TEST_IMAGES: "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
        TEST_LABELS: "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
    }
)
# Base URLs tried in order; a file's URL is ``f"{mirror}/{filename}"``.
MNIST_MIRRORS: tuple[str, ...] = (
    "https://ossci-datasets.s3.amazonaws.com/mnist",  # torchvision's mirror
    "https://storage.googleapis.com/cvdf-datasets/mnist",  # TensorFlow Datasets' mirror
    "http://yann.lecun.com/exdb/mnist",
)

N_VAL = 2_000
SPLITS = ("train", "val", "test", "train_full")
SPLIT_PROTOCOL = (
    "train = training file minus its last 2,000 images; validation = last 2,000 "
    "training images; test = the whole test file (here MNIST test, first 5,000 images); "
    "pixels scaled to [0, 1] as uint8 / 255"
)

_DOWNLOAD_TIMEOUT_S = 60.0


def cache_root() -> Path:
    """Where downloads are cached: ``$AEZOO_CACHE_DIR``, else ``$AEZOO_HOME`` (beside the
    registry), else ``platformdirs.user_cache_dir("aezoo")``."""
    env = os.environ.get("AEZOO_CACHE_DIR") or os.environ.get("AEZOO_HOME")
    return Path(env).expanduser() if env else Path(platformdirs.user_cache_dir("aezoo"))


def _default_cache_dir() -> Path:
    return cache_root() / "datasets" / "mnist"


def _download_one(url: str, name: str, dest: Path, sha256: str, timeout: float) -> None:
    """Fetch ``url`` to a temp file in ``dest``, verify, then ``os.replace`` into place."""
    request = urllib.request.Request(url, headers={"User-Agent": f"aezoo/{__version__}"})
    fd, tmp_name = tempfile.mkstemp(dir=dest, prefix=f".{name}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        digest = hashlib.sha256()
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(request, timeout=timeout) as resp:
            total = resp.headers.get("Content-Length")
            with tqdm(
                total=int(total) if total else None,
                unit="B",
                unit_scale=True,
                desc=name,
                disable=None,  # silent when stderr is not a terminal
            ) as bar:
                while chunk := resp.read(1 << 16):
                    out.write(chunk)
                    digest.update(chunk)
                    bar.update(len(chunk))
        got = digest.hexdigest()
        if got != sha256:
            raise DataError(f"{name}: checksum mismatch: expected sha256 {sha256}, got {got}")
        os.replace(tmp, dest / name)
    finally:
        tmp.unlink(missing_ok=True)


def download_mnist(
    dest: str | os.PathLike[str],
    mirrors: Sequence[str] | None = None,
    checksums: Mapping[str, str] | None = None,
    *,
    timeout: float = _DOWNLOAD_TIMEOUT_S,
) -> Path:
    """Download every file of ``checksums`` that is missing from ``dest``.

    Each file is written to a temp file in ``dest``, its sha256 checked against
    ``checksums``, and only then moved into place (``os.replace``), so a file under
    its final name is always complete and verified. Mirrors are tried in order; a
    mirror that fails (network error, HTTP error, checksum mismatch) is skipped.

    Args:
        dest: directory to fill (created if needed).
        mirrors: base URLs; defaults to ``MNIST_MIRRORS``.
        checksums: filename -> expected sha256 hex; defaults to ``MNIST_FILES``.
        timeout: socket timeout in seconds for each request.

    Returns:
        ``dest`` as a Path.

    Raises:
        DataError: every mirror failed for some file; the message lists each
            mirror's error (a checksum mismatch names the file, expected and got).
    """
    dest = Path(dest)
    mirrors = MNIST_MIRRORS if mirrors is None else tuple(mirrors)
    checksums = MNIST_FILES if checksums is None else checksums
    dest.mkdir(parents=True, exist_ok=True)
    for name, sha256 in checksums.items():
        if (dest / name).is_file():
            continue
        errors: list[str] = []
        for mirror in mirrors:
            url = f"{mirror.rstrip('/')}/{name}"
            try:
                _download_one(url, name, dest, sha256, timeout)
                break
            except (OSError, ValueError, http.client.HTTPException) as exc:
                # URLError/HTTPError, timeouts, refused connections, short reads, DataError
                errors.append(f"  {url}: {exc}")
        else:
            raise DataError(
                f"could not download {name} into {dest}:\n"
                + ("\n".join(errors) or "  no mirrors given")
                + "\nPoint aezoo at a local copy with --data-dir or AEZOO_DATA_DIR."
            )
    return dest


def resolve_mnist_dir(
    data_dir: str | os.PathLike[str] | None = None,
    *,
    mirrors: Sequence[str] | None = None,
    checksums: Mapping[str, str] | None = None,
) -> Path:
    """Find the directory holding the four MNIST files, downloading only into the cache.

    Order: ``data_dir`` > env ``AEZOO_DATA_DIR`` > ``<cache>/datasets/mnist`` where
    ``<cache>`` is :func:`cache_root` (``AEZOO_CACHE_DIR``, else ``AEZOO_HOME``, else
    ``platformdirs.user_cache_dir("aezoo")``).
    A given directory is used as-is (its files are validated by header and size when
    read, never by checksum). Only the cache is filled by ``download_mnist``.

    Args:
        data_dir: explicit directory, or None.
        mirrors: passed to ``download_mnist`` when the cache is filled.
        checksums: filename -> sha256 of the files expected; defaults to ``MNIST_FILES``.

    Returns:
        the directory.

    Raises:
        DataError: a given directory does not exist or lacks files (the message lists
            them), or a download failed.
    """
    checksums = MNIST_FILES if checksums is None else checksums
    given = data_dir if data_dir is not None else os.environ.get("AEZOO_DATA_DIR") or None
    if given is None:
        return download_mnist(_default_cache_dir(), mirrors, checksums)
    directory = Path(given).expanduser()
    source = "data_dir" if data_dir is not None else "AEZOO_DATA_DIR"
    if not directory.is_dir():
        raise DataError(f"MNIST directory {directory} (from {source}) does not exist")
    missing = [name for name in checksums if not (directory / name).is_file()]
    if missing:
        raise DataError(f"MNIST directory {directory} (from {source}) lacks {', '.join(missing)}")
    return directory


def _file_key(directory: Path) -> tuple[tuple[str, int, int], ...]:
    stats = [(name, (directory / name).stat()) for name in sorted(MNIST_FILES)]
    return tuple((name, st.st_mtime_ns, st.st_size) for name, st in stats)


def _read_pair(images_path: Path, labels_path: Path) -> tuple[np.ndarray, np.ndarray]:
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.ndim != 3 or images.shape[1:] != (28, 28):
        raise DataError(f"{images_path}: expected 28x28 images (3 dims), got shape {images.shape}")
    if labels.ndim != 1:
        raise DataError(f"{labels_path}: expected labels (1 dim), got shape {labels.shape}")
    if images.shape[0] != labels.shape[0]:
        raise DataError(
            f"{images_path} holds {images.shape[0]} images but {labels_path} holds "
            f"{labels.shape[0]} labels: counts must agree"
        )
    if labels.size and labels.max() > 9:
        raise DataError(f"{labels_path}: label {labels.max()} out of range: expected 0..9")
    images.flags.writeable = False
    labels.flags.writeable = False
    return images, labels


@functools.lru_cache(maxsize=4)
def _load_decoded(
    directory: str, key: tuple[tuple[str, int, int], ...]
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Decoded uint8 arrays of one directory; ``key`` (mtimes, sizes) busts the cache."""
    del key
    root = Path(directory)
    return {
        "train": _read_pair(root / TRAIN_IMAGES, root / TRAIN_LABELS),
        "test": _read_pair(root / TEST_IMAGES, root / TEST_LABELS),
    }


def load_mnist(
    split: str, data_dir: str | os.PathLike[str] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Load one split of MNIST following ``SPLIT_PROTOCOL``.

    Splits: ``"train"`` = training file minus its last 2,000 images, ``"val"`` = the
    last 2,000 training images, ``"test"`` = the whole test file, ``"train_full"`` =
    the whole training file. Decoded files are cached in-process per directory; each
    call returns fresh arrays the caller may modify.

    Args:
        split: one of ``"train"``, ``"val"``, ``"test"``, ``"train_full"``.
        data_dir: where the files are; see ``resolve_mnist_dir``.

    Returns:
        ``(X, y)``: X float32 of shape (n_samples, 784) with values in [0, 1]
        (uint8 / 255); y int64 of shape (n_samples,) with values in 0..9.

    Raises:
        DataError: unknown split, files missing or malformed, image and label counts
            disagree, or the training file has no more than 2,000 images.
    """
    if split not in SPLITS:
        raise DataError(f"unknown split {split!r}: expected one of {', '.join(SPLITS)}")
    directory = resolve_mnist_dir(data_dir).resolve()
    decoded = _load_decoded(str(directory), _file_key(directory))
    images, labels = decoded["test" if split == "test" else "train"]
    if split in ("train", "val"):
        n = images.shape[0]
        if n <= N_VAL:
            raise DataError(
                f"{directory / TRAIN_IMAGES}: {n} training images; split {split!r} needs "
                f"more than {N_VAL} (the last {N_VAL} are the validation set)"
            )
        rows = slice(n - N_VAL, n) if split == "val" else slice(0, n - N_VAL)
        images, labels = images[rows], labels[rows]
    x = images.reshape(images.shape[0], -1).astype(np.float32)
    x /= np.float32(255.0)
    return x, labels.astype(np.int64)
