"""``aezoo denoise-images``: every PNG/JPEG of a folder through a whole-image denoiser
(:meth:`aezoo.runtime.model.OnnxModel.denoise_image`), written as PNG files of the same
names (``photo.jpg`` -> ``photo.png``) to another folder.

One image at a time (memory: one decoded image, its result and the tiles, see
:mod:`aezoo.runtime.tiling`); each file written to a temporary name and renamed, so an
output is never half-written. A file that cannot be read, is above ``max_pixels`` or fails
is reported by name and skipped; the others still run.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from tqdm.auto import tqdm

from aezoo.errors import AezooError, ConfigError
from aezoo.runtime.images import MAX_IMAGE_PIXELS
from aezoo.runtime.loading import load_model
from aezoo.runtime.model import OnnxModel
from aezoo.runtime.photos import decode_photo, photo_png
from aezoo.runtime.tiling import check_sigma

SUFFIXES = (".png", ".jpg", ".jpeg")


@dataclass
class DenoiseRun:
    """What :func:`denoise_folder` did.

    Attributes:
        written: output files, in input order.
        failed: ``(input file, why)`` of every file that was skipped.
        seconds: wall time of the run.
    """

    written: list[Path] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)
    seconds: float = 0.0


def denoise_folder(
    model: OnnxModel | str | os.PathLike[str],
    source: str | os.PathLike[str],
    dest: str | os.PathLike[str],
    sigma: float,
    *,
    max_pixels: int = MAX_IMAGE_PIXELS,
    progress: bool = True,
    threads: int = 0,
) -> DenoiseRun:
    """Denoise every ``*.png``, ``*.jpg``, ``*.jpeg`` directly in ``source`` into ``dest``.

    Args:
        model: a loaded denoiser, or a registry reference / artifact path.
        source: folder of images (grayscale, or colour denoised per channel).
        dest: output folder (created); existing files of the same names are replaced.
        sigma: noise standard deviation on the 0-255 scale, in the model's sigma_range.
        max_pixels: largest width x height read (decompression bombs).
        progress: a tqdm bar on stderr.
        threads: onnxruntime intra-op threads when ``model`` is loaded here (0 = default).

    Raises:
        ConfigError: ``source`` is not a folder, holds no image, or the model is not a
            whole-image denoiser.
        InputError: sigma outside the model's range (before any file is read).
    """
    start = time.perf_counter()
    m = model if isinstance(model, OnnxModel) else load_model(model, intra_op_threads=threads)
    spec = m.config.denoiser
    if spec is None:
        raise ConfigError(f"model {m.name!r} is not a whole-image denoiser (no config.denoiser)")
    check_sigma(spec, sigma)
    src = Path(source)
    if not src.is_dir():
        raise ConfigError(f"{src} is not a folder of images")
    files = sorted(p for p in src.iterdir() if p.is_file() and p.suffix.lower() in SUFFIXES)
    if not files:
        raise ConfigError(f"{src} holds no {', '.join(SUFFIXES)} file")
    out_dir = Path(dest)
    out_dir.mkdir(parents=True, exist_ok=True)
    run = DenoiseRun()
    for path in tqdm(files, unit="images", disable=not progress):
        target = out_dir / (path.stem + ".png")
        if target in run.written:
            run.failed.append((path, f"same output name {target.name} as an earlier file"))
            continue
        try:
            image = decode_photo(path.read_bytes(), max_pixels)
            png = photo_png(m.denoise_image(image, sigma))
        except (AezooError, OSError) as e:
            run.failed.append((path, str(e)))
            continue
        tmp = target.with_name(f".{target.name}.tmp")
        tmp.write_bytes(png)
        tmp.replace(target)
        run.written.append(target)
    run.seconds = time.perf_counter() - start
    return run


__all__ = ["SUFFIXES", "DenoiseRun", "denoise_folder"]
