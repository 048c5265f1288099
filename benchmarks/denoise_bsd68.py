"""BSD68 Gaussian denoising, side by side (issue 22 item 4): PSNR, SSIM, seconds per image.

Protocol (aezoo.evaluation.denoising; ../shared/data/denoising/README.md): the BSD68 test
images, white Gaussian noise of sigma 15 / 25 / 50 on the 0-255 scale added with a seed
per (sigma, image) and NOT clipped, PSNR per image averaged, SSIM (scikit-image,
data_range 255) beside it, every method on the same noisy images. Rows:

* aezoo: each ``--models`` name loaded through the registry and run as its ONNX graph
  (``onnx/denoiser.onnx``, onnxruntime, no torch), the whole image in one pass (the graph
  pads by reflection itself). ``aezoo.load(NAME)`` is used when the runtime serves
  denoisers (``denoise_image``); otherwise the verified artifact's graph is opened here.
* scikit-learn: ``MiniBatchDictionaryLearning`` (100 atoms of 7x7) fitted on
  ``--sklearn-patches`` mean-removed Train400 patches, then every overlapping 7x7 patch of
  the noisy image coded by OMP until its residual is under ``(1.15 sigma)^2`` per pixel
  (K-SVD's stopping rule, Elad & Aharon 2006) and the patches averaged back, as
  scikit-learn's image-denoising example does.
* BM3D: the ``bm3d`` package (benchmark only, non-commercial licence: never a dependency
  of aezoo), ``bm3d.bm3d(noisy, sigma_psd=sigma)`` with its default profile.
* BM3D and DnCNN published averages over the 68 images (DnCNN's README), for reference.

Rows are printed in the order ``--methods`` names them (the ``--models`` rows where
``aezoo`` stands). An aezoo model is scored only at the sigmas inside its ``sigma_range``
(a one-level model at its own sigma only; it refuses the others): its other cells read
``- (out of range)``. The load average is printed when the run starts and ends, and, when
the rows are there, each aezoo row's PSNR difference to the scikit-learn row and its speed
ratio to the BM3D row (the issue's floors: +1.0 dB over scikit-learn, 10x faster than BM3D,
both measured in the same run).

Install the peers, then run (a subset first; the full set takes about an hour with BM3D and
scikit-learn on 2 cores)::

    pip install bm3d scikit-image
    flock /tmp/aezoo-bench.lock nice -n 10 python benchmarks/denoise_bsd68.py \\
        --data-dir ../shared/data/denoising --images 10
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from aezoo.data.denoising import TEST, TRAIN, load_images
from aezoo.evaluation.denoising import STANDARD_SIGMAS, Denoise, evaluate, in_range

PUBLISHED = {"BM3D (published)": (31.07, 28.57, 25.62), "DnCNN (published)": (31.73, 29.23, 26.23)}
PUBLISHED_SIGMAS = STANDARD_SIGMAS
SKLEARN, BM3D = "scikit-learn dictionary + OMP", "BM3D (bm3d package)"
OUT_OF_RANGE = "- (out of range)"
Results = dict[str, dict[str, dict[str, float]]]  # label -> sigma ("25") -> evaluate's row


@dataclass(frozen=True)
class Prepared:
    """A method ready to run: its function and the noise levels it accepts."""

    denoise: Denoise
    sigma_range: tuple[float, float] | None = None  # None: any sigma


@dataclass(frozen=True)
class Method:
    """A row of the table: its label and how to build it (timed as setup)."""

    label: str
    make: Callable[[], Prepared]


def aezoo_denoiser(name: str, threads: int) -> Prepared:
    """``name`` through ``aezoo.load`` (its verified ONNX graph, onnxruntime, no torch) as a
    ``(noisy 0-255, sigma) -> estimate`` function, with ``threads`` intra-op threads, and
    the model's ``sigma_range``."""
    import aezoo

    model = aezoo.load(name, intra_op_threads=threads)
    spec = model.config.denoiser
    if spec is None:
        raise SystemExit(f"{name}: not a whole-image denoiser (config.denoiser is null)")
    lo, hi = spec.sigma_range
    return Prepared(
        lambda noisy, sigma: model.denoise_image(noisy / 255.0, sigma=sigma) * 255.0, (lo, hi)
    )


def sklearn_denoiser(train: list[np.ndarray], n_patches: int, seed: int) -> Denoise:
    """scikit-learn's dictionary-learning patch denoiser (fitted once, on clean patches)."""
    from sklearn.decomposition import MiniBatchDictionaryLearning
    from sklearn.feature_extraction.image import extract_patches_2d, reconstruct_from_patches_2d

    size = (7, 7)
    rng = np.random.default_rng(seed)
    per_image = -(-n_patches // len(train))
    X = np.concatenate(
        [
            extract_patches_2d(
                im / 255.0, size, max_patches=per_image, random_state=int(rng.integers(1 << 31))
            )
            for im in train
        ]
    ).reshape(-1, size[0] * size[1])[:n_patches]
    X -= X.mean(axis=1, keepdims=True)
    X /= X.std(axis=0).mean()  # a common scale for the fit; atoms are unit norm either way
    dico = MiniBatchDictionaryLearning(
        n_components=100, alpha=1.0, batch_size=256, max_iter=20, random_state=seed
    ).fit(X)
    n = size[0] * size[1]

    def fn(noisy: np.ndarray, sigma: float) -> np.ndarray:
        P = extract_patches_2d(noisy / 255.0, size).reshape(-1, n)
        mean = P.mean(axis=1, keepdims=True)
        dico.set_params(transform_algorithm="omp", transform_alpha=n * (1.15 * sigma / 255.0) ** 2)
        code = dico.transform(P - mean)
        rec = (code @ dico.components_ + mean).reshape(-1, *size)
        return reconstruct_from_patches_2d(rec, noisy.shape) * 255.0

    return fn


def bm3d_denoiser() -> Denoise:
    import bm3d

    return lambda noisy, sigma: bm3d.bm3d(noisy, sigma_psd=sigma)


def build_methods(
    order: Sequence[str],
    models: Sequence[str],
    *,
    threads: int,
    train: Callable[[], list[np.ndarray]],
    sklearn_patches: int,
    seed: int,
) -> list[Method]:
    """The rows in the order of ``order`` (``aezoo``: one row per model of ``models``);
    a method named twice runs once."""
    methods: list[Method] = []
    for name in dict.fromkeys(order):
        if name == "aezoo":
            methods += [
                Method(f"aezoo {m} (ONNX)", lambda m=m: aezoo_denoiser(m, threads)) for m in models
            ]
        elif name == "sklearn":
            methods.append(
                Method(SKLEARN, lambda: Prepared(sklearn_denoiser(train(), sklearn_patches, seed)))
            )
        elif name == "bm3d":
            methods.append(Method(BM3D, lambda: Prepared(bm3d_denoiser())))
        else:
            raise ValueError(f"unknown method {name!r}")
    return methods


def run_methods(
    methods: Sequence[Method],
    images: Sequence[np.ndarray],
    sigmas: Sequence[float],
    seed: int,
    log: Callable[[str], None] = print,
) -> Results:
    """Each method's scores at the ``sigmas`` inside its range (others left out), in order."""
    results: Results = {}
    for m in methods:
        t = time.perf_counter()
        prepared = m.make()
        setup = time.perf_counter() - t
        mine = [
            s for s in sigmas if prepared.sigma_range is None or in_range(s, prepared.sigma_range)
        ]
        skipped = [f"{s:g}" for s in sigmas if s not in mine]
        results[m.label] = evaluate(prepared.denoise, images, mine, seed=seed) if mine else {}
        note = (
            f"; sigma {', '.join(skipped)} outside its range {list(prepared.sigma_range or ())}"
            if skipped
            else ""
        )
        log(f"{m.label}: done (setup {setup:.1f} s{note})")
    return results


def load_line(when: str) -> str:
    """``load average at START: 1.23 0.98 0.50 (1, 5, 15 min; 2 CPUs)``."""
    one, five, fifteen = os.getloadavg()
    return (
        f"load average at {when}: {one:.2f} {five:.2f} {fifteen:.2f} "
        f"(1, 5, 15 min; {os.cpu_count()} CPUs)"
    )


def table_lines(results: Results, sigmas: Sequence[float], n_images: int, seed: int) -> list[str]:
    """The Markdown table: a noisy-input row, the methods in run order, the published rows."""
    sig = [f"{s:g}" for s in sigmas]
    lines = [
        f"BSD68, {n_images} images, noise seed {seed}, not clipped",
        "| method | " + " | ".join(f"sigma {s}: PSNR / SSIM / s per image" for s in sig) + " |",
        "|---|" + "---|" * len(sig),
    ]
    noisy = {s: r[s]["noisy_psnr"] for r in results.values() for s in r}
    if noisy:
        lines.append(
            "| noisy input | "
            + " | ".join(f"{noisy[s]:.2f} / - / -" if s in noisy else "-" for s in sig)
            + " |"
        )
    for label, res in results.items():
        cells = [
            f"{res[s]['psnr']:.2f} / {res[s]['ssim']:.4f} / {res[s]['seconds_per_image']:.2f}"
            if s in res
            else OUT_OF_RANGE
            for s in sig
        ]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    for label, vals in PUBLISHED.items():
        table = dict(zip((f"{s:g}" for s in PUBLISHED_SIGMAS), vals, strict=True))
        lines.append(
            f"| {label}, 68 images | "
            + " | ".join(f"{table[s]} / - / -" if s in table else "-" for s in sig)
            + " |"
        )
    return lines


def ratio_lines(results: Results, sigmas: Sequence[float]) -> list[str]:
    """Each aezoo row against the scikit-learn row (PSNR difference) and the BM3D row
    (speed ratio, PSNR difference), at every sigma both were scored at in this run."""
    lines = []
    ours = [label for label in results if label.startswith("aezoo ")]
    for label in ours:
        for s in (f"{x:g}" for x in sigmas):
            if s not in results[label]:
                continue
            me = results[label][s]
            sk = results.get(SKLEARN, {}).get(s)
            if sk is not None:
                lines.append(
                    f"{label} vs scikit-learn at sigma {s}: {me['psnr'] - sk['psnr']:+.2f} dB "
                    f"({me['psnr']:.2f} vs {sk['psnr']:.2f})"
                )
            bm = results.get(BM3D, {}).get(s)
            if bm is not None:
                lines.append(
                    f"{label} vs BM3D at sigma {s}: "
                    f"{bm['seconds_per_image'] / me['seconds_per_image']:.1f}x faster "
                    f"({me['seconds_per_image']:.3f} vs {bm['seconds_per_image']:.3f} s per "
                    f"image), {me['psnr'] - bm['psnr']:+.2f} dB "
                    f"({me['psnr']:.2f} vs {bm['psnr']:.2f})"
                )
    return lines


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--data-dir", required=True, help="folder with train400/ and bsd68/")
    p.add_argument("--images", type=int, help="first N BSD68 images (default: all 68)")
    p.add_argument("--sigmas", type=float, nargs="+", default=list(STANDARD_SIGMAS))
    p.add_argument("--models", nargs="+", default=["lista-denoiser-bsd"], help="aezoo models")
    p.add_argument(
        "--methods",
        nargs="+",
        default=["aezoo", "sklearn", "bm3d"],
        choices=["aezoo", "sklearn", "bm3d"],
        help="rows, printed in this order (default aezoo sklearn bm3d)",
    )
    p.add_argument("--sklearn-patches", type=int, default=20_000, help="patches the fit sees")
    p.add_argument("--threads", type=int, default=2, help="onnxruntime intra-op threads")
    p.add_argument("--seed", type=int, default=0, help="noise seed")
    args = p.parse_args(argv)

    print(load_line("start"), flush=True)
    test = load_images(args.data_dir, TEST, args.images)
    methods = build_methods(
        args.methods,
        args.models,
        threads=args.threads,
        train=lambda: load_images(args.data_dir, TRAIN),
        sklearn_patches=args.sklearn_patches,
        seed=args.seed,
    )
    results = run_methods(
        methods, test, args.sigmas, args.seed, log=lambda line: print(line, flush=True)
    )
    print()
    print("\n".join(table_lines(results, args.sigmas, len(test), args.seed)))
    ratios = ratio_lines(results, args.sigmas)
    if ratios:
        print()
        print("\n".join(ratios))
    print()
    print(load_line("end"), flush=True)


if __name__ == "__main__":
    main()
