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

Install the peers, then run (a subset first; the full set takes about an hour with BM3D and
scikit-learn on 2 cores)::

    pip install bm3d scikit-image
    flock /tmp/aezoo-bench.lock nice -n 10 python benchmarks/denoise_bsd68.py \\
        --data-dir ../shared/data/denoising --images 10
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np

from aezoo.data.denoising import TEST, TRAIN, load_images
from aezoo.evaluation.denoising import Denoise, evaluate

PUBLISHED = {"BM3D (published)": (31.07, 28.57, 25.62), "DnCNN (published)": (31.73, 29.23, 26.23)}
PUBLISHED_SIGMAS = (15.0, 25.0, 50.0)


def aezoo_denoiser(name: str, threads: int) -> Denoise:
    """``name`` through ``aezoo.load`` (its verified ONNX graph, onnxruntime, no torch) as a
    ``(noisy 0-255, sigma) -> estimate`` function, with ``threads`` intra-op threads."""
    import aezoo

    model = aezoo.load(name, intra_op_threads=threads)
    return lambda noisy, sigma: model.denoise_image(noisy / 255.0, sigma=sigma) * 255.0


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


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--data-dir", required=True, help="folder with train400/ and bsd68/")
    p.add_argument("--images", type=int, help="first N BSD68 images (default: all 68)")
    p.add_argument("--sigmas", type=float, nargs="+", default=[15.0, 25.0, 50.0])
    p.add_argument("--models", nargs="+", default=["lista-denoiser-bsd"], help="aezoo models")
    p.add_argument(
        "--methods",
        nargs="+",
        default=["aezoo", "sklearn", "bm3d"],
        choices=["aezoo", "sklearn", "bm3d"],
    )
    p.add_argument("--sklearn-patches", type=int, default=20_000, help="patches the fit sees")
    p.add_argument("--threads", type=int, default=2, help="onnxruntime intra-op threads")
    p.add_argument("--seed", type=int, default=0, help="noise seed")
    args = p.parse_args()

    test = load_images(args.data_dir, TEST, args.images)
    methods: list[tuple[str, Callable[[], Denoise]]] = []
    if "aezoo" in args.methods:
        methods += [
            (f"aezoo {m} (ONNX)", lambda m=m: aezoo_denoiser(m, args.threads)) for m in args.models
        ]
    if "sklearn" in args.methods:
        train = load_images(args.data_dir, TRAIN)
        methods.append(
            (
                "scikit-learn dictionary + OMP",
                lambda: sklearn_denoiser(train, args.sklearn_patches, args.seed),
            )
        )
    if "bm3d" in args.methods:
        methods.append(("BM3D (bm3d package)", bm3d_denoiser))

    results = {}
    for label, make in methods:
        t = time.perf_counter()
        fn = make()
        setup = time.perf_counter() - t
        results[label] = evaluate(fn, test, args.sigmas, seed=args.seed)
        print(f"{label}: done (setup {setup:.1f} s)", flush=True)

    sig = [f"{s:g}" for s in args.sigmas]
    print(f"\nBSD68, {len(test)} images, noise seed {args.seed}, not clipped")
    print("| method | " + " | ".join(f"sigma {s}: PSNR / SSIM / s per image" for s in sig) + " |")
    print("|---|" + "---|" * len(sig))
    noisy = next(iter(results.values())) if results else None
    if noisy is not None:
        print(
            "| noisy input | "
            + " | ".join(f"{noisy[s]['noisy_psnr']:.2f} / - / -" for s in sig)
            + " |"
        )
    for label, res in results.items():
        cells = [
            f"{res[s]['psnr']:.2f} / {res[s]['ssim']:.4f} / {res[s]['seconds_per_image']:.2f}"
            for s in sig
        ]
        print(f"| {label} | " + " | ".join(cells) + " |")
    for label, vals in PUBLISHED.items():
        table = dict(zip((f"{s:g}" for s in PUBLISHED_SIGMAS), vals, strict=True))
        print(
            f"| {label}, 68 images | "
            + " | ".join(f"{table.get(s, '-')} / - / -" for s in sig)
            + " |"
        )


if __name__ == "__main__":
    main()
