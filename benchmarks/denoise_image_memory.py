"""Peak memory of ``OnnxModel.denoise_image`` per megapixel: tiled (the default 256-pixel
blocks) against untiled (one block the size of the image), each run in a fresh process
whose peak resident set (Linux ``VmHWM``) is read after the model is loaded and warmed up,
and again after one image is denoised.

    python benchmarks/denoise_image_memory.py MODEL [--sides 1000 2000 4000]

MODEL: a registry reference or an artifact directory of a whole-image denoiser
(``lista-denoiser-bsd``, the bundled one). ``--tiny DIR`` writes the tests' tiny denoiser
(tests/denoiser_fixture.py: two chained 3x3 convolutions) to DIR and measures it.
Prints a table: image side, megapixels, mode, peak growth (MiB), MiB per megapixel, seconds.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _hwm() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status (Linux only)")


def child(model_ref: str, side: int, tiled: bool, threads: int) -> dict:
    """One measurement in this process: load, warm up, denoise a side x side uint8 image."""
    import numpy as np

    from aezoo.runtime.loading import load_model

    model = load_model(model_ref, intra_op_threads=threads)
    model.warm_up()
    image = np.random.default_rng(0).integers(0, 256, (side, side), dtype=np.uint8)
    base = _hwm()
    start = time.perf_counter()
    out = model.denoise_image(image, 25, **({} if tiled else {"tile": side}))
    seconds = time.perf_counter() - start
    assert out.shape == image.shape
    grew = _hwm() - base
    return {"side": side, "mp": side * side / 1e6, "tiled": tiled, "mib": grew / 2**20,
            "seconds": seconds}  # fmt: skip


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("model", nargs="?", help="registry reference or artifact directory")
    p.add_argument("--tiny", help="write the tests' tiny denoiser here and measure it")
    p.add_argument("--sides", type=int, nargs="+", default=[1000, 2000, 4000])
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--child", nargs=2, metavar=("SIDE", "TILED"), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        print(json.dumps(child(args.model, int(args.child[0]), args.child[1] == "1", args.threads)))
        return 0
    model = args.model
    if args.tiny:
        sys.path.insert(0, str(ROOT))
        from tests.denoiser_fixture import write_denoiser_artifact

        model = str(write_denoiser_artifact(Path(args.tiny)))
    if not model:
        p.error("give MODEL or --tiny DIR")
    print(f"model {model}, {args.threads} onnxruntime thread(s)")
    print(f"{'side':>6} {'MP':>6} {'mode':>8} {'peak MiB':>9} {'MiB/MP':>7} {'s':>7}")
    for side in args.sides:
        for tiled in (True, False):
            cmd = [sys.executable, __file__, model, "--threads", str(args.threads),
                   "--child", str(side), "1" if tiled else "0"]  # fmt: skip
            done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
            if done.returncode != 0:
                print(done.stderr, file=sys.stderr)
                return 1
            r = json.loads(done.stdout.strip().splitlines()[-1])
            mode = "tiled" if tiled else "untiled"
            print(f"{side:>6} {r['mp']:>6.2f} {mode:>8} {r['mib']:>9.1f} {r['mib'] / r['mp']:>7.1f} "
                  f"{r['seconds']:>7.2f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
