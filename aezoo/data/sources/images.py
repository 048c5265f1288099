"""Image folders (PNG, JPEG, BMP), decoded by Pillow in a worker pool.

Layouts, as timm's and torchvision's ``ImageFolder`` and ``datasets``' ``imagefolder``:

- flat: ``root/*.png``, unlabelled;
- one subfolder per class: ``root/CLASS/**/*.png``, class names the sorted folder names;
- ``root/train/``, ``root/val/`` (or ``validation/``), ``root/test/``, each flat or one
  subfolder per class: the source's own splits (a missing ``val``/``test`` is carved from
  ``train``).

A sample is the image converted to ``image_mode`` (``"L"`` or ``"RGB"``; Pillow's
``Image.convert``; 16-bit grayscale keeps its top byte), resized to ``image_size`` ``(H, W)`` when given (bilinear), flattened
channel-first ``(C, H, W)`` row-major, with pixels ``uint8 / 255`` in [0, 1].
Decoding is bounded: an image of more than ``max_image_pixels`` pixels is refused from its
header, before any pixel is decoded (decompression bombs).
"""

from __future__ import annotations

import io
import itertools
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from aezoo.data.pixels import image_pixels, to_unit
from aezoo.data.sources.raw import DEFAULT_MAX_IMAGE_PIXELS, IMAGE_SUFFIXES, RawData, need, one_line
from aezoo.errors import ConfigError, DataError

SPLIT_DIRS = {"train": "train", "val": "val", "valid": "val", "validation": "val", "test": "test"}
GRAY_MODES = frozenset({"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F"})
MODES = ("L", "RGB")
_FEATURE = "reading images"


@dataclass(frozen=True)
class ImageItem:
    """One image to decode: a file, or encoded bytes (a Hub ``Image`` column); ``name``
    is what errors cite; ``label`` the class name or None."""

    name: str
    path: Path | None = None
    data: bytes | None = None
    label: str | None = None

    def open(self) -> Any:
        image = need("PIL.Image", _FEATURE)
        return image.open(self.path if self.data is None else io.BytesIO(self.data))


@dataclass(frozen=True)
class Plan:
    """How every image of a source is decoded: ``mode`` and ``size`` ``(H, W)``."""

    mode: str
    size: tuple[int, int]

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return (1 if self.mode == "L" else 3, *self.size)


def _images_in(folder: Path, recursive: bool) -> list[Path]:
    """Image files of ``folder`` (and below, when ``recursive``), sorted; hidden files and
    folders (``.DS_Store``, ``.ipynb_checkpoints/``) and other suffixes are left out."""
    found = folder.rglob("*") if recursive else folder.iterdir()
    return sorted(
        p
        for p in found
        if p.suffix.lower() in IMAGE_SUFFIXES
        and not any(part.startswith(".") for part in p.relative_to(folder).parts)
        and p.is_file()
    )


def _scan(folder: Path) -> list[ImageItem]:
    """A flat folder, or one subfolder per class."""
    classes = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    flat = _images_in(folder, recursive=False)
    if classes and flat:
        raise DataError(
            f"{folder}: holds both images ({flat[0].name}) and subfolders ({classes[0].name}); "
            "expected a flat folder or one subfolder per class"
        )
    if not classes:
        return [ImageItem(str(p), path=p) for p in flat]
    return [ImageItem(str(p), path=p, label=c.name) for c in classes for p in _images_in(c, True)]


def list_folder(root: Path) -> dict[str, list[ImageItem]]:
    """The images of a folder by split (``"all"`` when it has no split subfolders).

    Raises:
        DataError: no such folder, no images, split folders labelled unlike each other,
            or images beside class subfolders.
    """
    if not root.is_dir():
        raise DataError(f"{root}: no such folder")
    subdirs = {p.name.lower(): p for p in root.iterdir() if p.is_dir()}
    if "train" in subdirs:
        parts: dict[str, list[ImageItem]] = {}
        for name, folder in sorted(subdirs.items()):
            if name in SPLIT_DIRS:
                parts.setdefault(SPLIT_DIRS[name], []).extend(_scan(folder))
    else:
        parts = {"all": _scan(root)}
    order = ("all", "train", "val", "test")
    parts = {s: parts[s] for s in order if parts.get(s)}
    if not parts:
        raise DataError(
            f"{root}: no images ({', '.join(IMAGE_SUFFIXES)}) in the folder or its subfolders"
        )
    labelled = {s: items[0].label is not None for s, items in parts.items()}
    if len(set(labelled.values())) > 1:
        raise DataError(
            f"{root}: split folders disagree: {', '.join(s for s, v in labelled.items() if v)} "
            f"have class subfolders, {', '.join(s for s, v in labelled.items() if not v)} do not"
        )
    return parts


def _probe(item: ImageItem, max_pixels: int) -> tuple[int, int, str]:
    """(height, width, mode) from the header alone."""
    pil = need("PIL.Image", _FEATURE)
    try:
        with item.open() as im:
            width, height, mode = im.width, im.height, im.mode
    except (pil.UnidentifiedImageError, pil.DecompressionBombError, OSError, SyntaxError) as exc:
        raise DataError(f"{item.name}: corrupt or unreadable image ({one_line(exc)})") from None
    if width * height > max_pixels:
        raise DataError(
            f"{item.name}: {width}x{height} = {width * height:,} pixels exceeds "
            f"max_image_pixels={max_pixels:,} (refused as a possible decompression bomb)"
        )
    return height, width, mode


def _map(fn: Callable[[Any], Any], items: Sequence[Any], workers: int | None) -> Iterable[Any]:
    """``map(fn, items)`` in a thread pool, in order; an error cancels what has not started."""
    pool = ThreadPoolExecutor(max_workers=workers or min(8, os.cpu_count() or 1))
    try:
        yield from pool.map(fn, items)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def chunks(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    """Consecutive lists of ``size`` items (the last may be shorter)."""
    it = iter(items)
    while chunk := list(itertools.islice(it, size)):
        yield chunk


def plan(
    items: Iterable[ImageItem],
    image_size: tuple[int, int] | None,
    image_mode: str | None,
    max_image_pixels: int = DEFAULT_MAX_IMAGE_PIXELS,
    workers: int | None = None,
) -> Plan:
    """Read every header (no pixels), 1,024 at a time, and settle the mode and size.

    Raises:
        ConfigError: ``image_mode`` not ``"L"``/``"RGB"``, or a bad ``image_size``.
        DataError: no images, a corrupt or oversized image, or mixed sizes without
            ``image_size`` (naming two files and their sizes).
    """
    if image_mode is not None and image_mode not in MODES:
        raise ConfigError(f"image_mode must be one of {', '.join(MODES)}, got {image_mode!r}")
    if image_size is not None and (
        len(image_size) != 2 or min(image_size) < 1 or max(image_size) > 65_535
    ):
        raise ConfigError(f"image_size must be (height, width) of positive ints, got {image_size}")
    first: tuple[str, int, int] | None = None
    gray = True
    for chunk in chunks(items, 1024):
        headers = _map(lambda it: _probe(it, max_image_pixels), chunk, workers)
        for item, (h, w, mode) in zip(chunk, headers, strict=True):
            gray = gray and mode in GRAY_MODES
            if first is None:
                first = (item.name, h, w)
            elif image_size is None and (h, w) != first[1:]:
                raise DataError(
                    f"images differ in size: {first[0]} is {first[1]}x{first[2]} and "
                    f"{item.name} is {h}x{w} (height x width); pass image_size=(H, W) to resize"
                )
    if first is None:
        raise DataError("no images to decode")
    size = image_size or first[1:]
    return Plan(image_mode or ("L" if gray else "RGB"), (int(size[0]), int(size[1])))


def decode_one(item: ImageItem, how: Plan) -> np.ndarray:
    """One image as uint8 ``(C * H * W,)``, channel-first row-major.

    Raises:
        DataError: a corrupt image (named).
    """
    pil = need("PIL.Image", _FEATURE)
    try:
        with item.open() as im:
            return image_pixels(im, how.mode, how.size)
    except (pil.UnidentifiedImageError, pil.DecompressionBombError, OSError, SyntaxError) as exc:
        raise DataError(f"{item.name}: corrupt or unreadable image ({one_line(exc)})") from None


def decode(
    items: Sequence[ImageItem],
    how: Plan,
    *,
    quiet: bool = False,
    workers: int | None = None,
    desc: str = "decoding images",
) -> np.ndarray:
    """Decode images in a thread pool (Pillow releases the GIL while it decodes).

    Returns:
        uint8 of shape ``(len(items), C * H * W)``, channel-first row-major.

    Raises:
        DataError: a corrupt image (the file named).
    """
    out = np.empty((len(items), int(np.prod(how.image_shape))), dtype=np.uint8)
    bar = tqdm(total=len(items), unit="img", desc=desc, disable=True if quiet else None)
    with bar:
        for i, pixels in enumerate(_map(lambda it: decode_one(it, how), items, workers)):
            out[i] = pixels
            bar.update(1)
    return out


def from_items(
    parts: dict[str, list[ImageItem]],
    where: str,
    *,
    image_size: tuple[int, int] | None = None,
    image_mode: str | None = None,
    max_image_pixels: int = DEFAULT_MAX_IMAGE_PIXELS,
    quiet: bool = False,
    workers: int | None = None,
    class_names: list[str] | None = None,
) -> RawData:
    """Decode every part; labels from each item's class name (indices into the sorted
    names, or into ``class_names`` when given)."""
    every = [it for items in parts.values() for it in items]
    how = plan(every, image_size, image_mode, max_image_pixels, workers)
    labelled = every[0].label is not None
    if labelled and class_names is None:
        class_names = sorted({str(it.label) for it in every})
    index = {c: i for i, c in enumerate(class_names or [])}
    pixels = decode(every, how, quiet=quiet, workers=workers)
    out: dict[str, tuple[np.ndarray, np.ndarray | None]] = {}
    start = 0
    for s, items in parts.items():
        X = to_unit(pixels[start : start + len(items)])
        y = np.array([index[str(it.label)] for it in items], dtype=np.int64) if labelled else None
        out[s] = (X, y)
        start += len(items)
    return RawData(
        "images",
        out,
        where,
        class_names=class_names if labelled else None,
        image_shape=how.image_shape,
    )


def load_folder(
    root: Path,
    *,
    image_size: tuple[int, int] | None = None,
    image_mode: str | None = None,
    max_image_pixels: int = DEFAULT_MAX_IMAGE_PIXELS,
    quiet: bool = False,
    workers: int | None = None,
) -> RawData:
    """A folder of images read whole (see the module's docstring for layouts).

    Raises:
        DataError: an empty folder, mixed sizes without ``image_size``, a corrupt or
            oversized image (the file named).
    """
    return from_items(
        list_folder(root),
        str(root),
        image_size=image_size,
        image_mode=image_mode,
        max_image_pixels=max_image_pixels,
        quiet=quiet,
        workers=workers,
    )
