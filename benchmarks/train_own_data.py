"""Training on one's own data: aezoo's trainer against a plain PyTorch loop and PyOD, and
peak memory on a 2 GB parquet file (issue 21).

Throughput (``--throughput``, default): one table (ADBench's optdigits, 5,216 x 64, min-max
scaled as ``aezoo train`` scales it), one model (the SdA ``aezoo train sda`` sizes for it:
64-128-64-32, 25% masking, joint loss), the same batch size and optimizer (Adam), the same
number of epochs; samples per second of training only (data loading, evaluation and export
excluded; ``aezoo train``'s whole command is timed too):

* ``aezoo trainer``: the family's :class:`~aezoo.training.sda.SdATrainer` (progress, history,
  per-epoch checkpoint, resumable);
* ``plain torch loop``: ``randperm`` batches, the same ``joint_loss``, ``backward``, ``step``;
* ``pyod AutoEncoder`` (optional, ``pip install pyod``; never a dependency of aezoo): PyOD's
  ``AutoEncoder.fit`` with the same epochs and batch size, its default network.

Memory (``--rss``): writes a parquet file of 2 GB of float32 values (2,000,000 x 256, row
groups of 50,000), trains a 256-feature table model on a 20,000-row sample of it, then
measures the peak RSS of ``aezoo extract`` over the whole file and of ``aezoo train`` on
the whole file (above ``--memory-limit``: streamed to disk once, one epoch read by chunks),
each in its own process (``ru_maxrss``).

    python benchmarks/train_own_data.py                 # throughput table
    python benchmarks/train_own_data.py --rss --tmp DIR  # memory table (needs 2.1 GB in DIR)
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
OPTDIGITS = REPO.parent / "shared" / "data" / "adbench" / "26_optdigits.npz"


def _sda_setup(epochs: int):
    from aezoo.data.preprocess import apply_scaling, fit_scaling
    from aezoo.data.sources import load_source
    from aezoo.training.pipeline import parse_config
    from aezoo.training.sizing import template

    data = load_source(str(OPTDIGITS))
    X, _ = data.splits["train"]
    offset, scale = fit_scaling(X)
    splits = {
        k: (apply_scaling(x, offset, scale), np.zeros(len(x), dtype=np.int64))
        for k, (x, _) in data.splits.items()
    }
    raw = template("sda", n_features=X.shape[1], n_train=len(X), class_names=None, image=None,
                   X_train=splits["train"][0])  # fmt: skip
    raw.update(pretrain_epochs=epochs, finetune_epochs=0, patience=0, name="bench")
    return parse_config(raw), splits


def _aezoo_trainer(cfg, splits) -> float:
    from aezoo.training.sda import SdATrainer

    with tempfile.TemporaryDirectory() as run_dir:
        trainer = SdATrainer(cfg, splits, Path(run_dir), show_progress=False)
        t0 = time.perf_counter()
        trainer.fit()
        return time.perf_counter() - t0


def _plain_loop(cfg, splits) -> float:
    import torch

    from aezoo.models.sda import StackedDenoisingAutoencoder
    from aezoo.training.sda import joint_loss

    torch.manual_seed(cfg.seed)
    model = StackedDenoisingAutoencoder(cfg.model).train()
    opt = torch.optim.Adam(model.parameters(), lr=cfg.pretrain_lr)
    X = torch.from_numpy(splits["train"][0])
    gen = torch.Generator().manual_seed(cfg.seed)
    t0 = time.perf_counter()
    for _ in range(cfg.pretrain_epochs):
        for idx in torch.randperm(len(X), generator=gen).split(cfg.batch_size):
            loss = joint_loss(model, X[idx], cfg, gen)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return time.perf_counter() - t0


def _pyod(cfg, splits) -> float | None:
    try:
        from pyod.models.auto_encoder import AutoEncoder
    except ImportError:
        return None
    model = AutoEncoder(epoch_num=cfg.pretrain_epochs, batch_size=cfg.batch_size, verbose=0)
    t0 = time.perf_counter()
    model.fit(splits["train"][0])
    return time.perf_counter() - t0


def _whole_command(epochs: int) -> float:
    env = {**os.environ, "AEZOO_HOME": tempfile.mkdtemp(prefix="aezoo-bench-")}
    cmd = [sys.executable, "-m", "aezoo", "train", "sda", "--data", str(OPTDIGITS), "--quiet",
           "--set", f"pretrain_epochs={epochs}", "--set", "finetune_epochs=0"]  # fmt: skip
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, env=env, capture_output=True)
    return time.perf_counter() - t0


def throughput(epochs: int, repeats: int) -> None:
    import torch

    cfg, splits = _sda_setup(epochs)
    n = len(splits["train"][0]) * epochs
    arms = {
        "aezoo trainer": _aezoo_trainer,
        "plain torch loop": _plain_loop,
        "pyod AutoEncoder": _pyod,
    }
    best: dict[str, float | None] = {}
    for name, fn in arms.items():
        times = [fn(cfg, splits) for _ in range(repeats)]
        best[name] = None if times[0] is None else min(times)  # type: ignore[type-var]
    whole = _whole_command(epochs)
    print(f"optdigits train split {len(splits['train'][0]):,} x 64, SdA "
          f"{cfg.model.hidden_sizes}, batch {cfg.batch_size}, {epochs} epochs, "
          f"torch threads {torch.get_num_threads()}, best of {repeats}; load {os.getloadavg()[0]:.1f}")  # fmt: skip
    print("| arm | seconds | samples/s | vs plain loop |")
    print("|---|---|---|---|")
    plain = best["plain torch loop"]
    for name, secs in best.items():
        if secs is None:
            print(f"| {name} | not installed | - | - |")
            continue
        print(f"| {name} | {secs:.2f} | {n / secs:,.0f} | {plain / secs:.2f}x |")  # type: ignore[operator]
    print(f"| aezoo train (whole command: load, train, evaluate, export, register) | "
          f"{whole:.2f} | {n / whole:,.0f} | {plain / whole:.2f}x |")  # fmt: skip


_MEASURE = (
    "import resource, subprocess, sys; r = subprocess.run(sys.argv[1:]).returncode; "
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(r)"
)


def _peak_rss_mb(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Peak RSS (MB) and seconds of ``cmd``, run under a fresh parent of its own (so that
    ``RUSAGE_CHILDREN`` sees that one child only)."""
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", _MEASURE, *cmd], env=env, capture_output=True,
                          text=True)  # fmt: skip
    secs = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stderr[-2000:]}")
    return int(proc.stdout.strip().splitlines()[-1]) / 1024, secs


def rss(tmp: Path, rows: int, features: int) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp / "big.parquet"
    names = [f"f{i}" for i in range(features)]
    if not path.is_file():
        rng = np.random.default_rng(0)
        with pq.ParquetWriter(path, pa.schema([(c, pa.float32()) for c in names])) as w:
            for start in range(0, rows, 50_000):
                block = rng.standard_normal((min(50_000, rows - start), features), np.float32)
                w.write_table(pa.Table.from_arrays(list(block.T), names=names))
    size_gb = path.stat().st_size / 1e9
    env = {**os.environ, "AEZOO_HOME": str(tmp / "home")}
    sample = tmp / "sample.npy"
    np.save(
        sample, pq.ParquetFile(path).read_row_group(0).to_pandas().to_numpy(np.float32)[:20_000]
    )
    base = [sys.executable, "-m", "aezoo"]
    subprocess.run([*base, "train", "sda", "--data", str(sample), "--name", "big-table", "--quiet",
                    "--set", "pretrain_epochs=1", "--set", "finetune_epochs=0"],
                   env=env, check=True, capture_output=True)  # fmt: skip
    print(
        f"{path.name}: {rows:,} x {features} float32, {size_gb:.2f} GB; load {os.getloadavg()[0]:.1f}"
    )
    print("| step | peak RSS (MB) | seconds |")
    print("|---|---|---|")
    peak, secs = _peak_rss_mb([*base, "extract", "big-table", str(path), str(tmp / "f.npy"),
                               "--quiet"], env)  # fmt: skip
    print(f"| aezoo extract (whole file, encode) | {peak:,.0f} | {secs:.1f} |")
    peak, secs = _peak_rss_mb([*base, "train", "sda", "--data", str(path), "--name", "big2",
                               "--quiet", "--set", "pretrain_epochs=1", "--set",
                               "finetune_epochs=0"], env)  # fmt: skip
    print(f"| aezoo train (the whole file: spilled to disk, 1 epoch by 64 MiB chunks) | "
          f"{peak:,.0f} | {secs:.1f} |")  # fmt: skip


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--rss", action="store_true", help="the 2 GB memory table instead")
    p.add_argument("--tmp", type=Path, default=Path(tempfile.gettempdir()))
    p.add_argument("--rows", type=int, default=2_000_000)
    p.add_argument("--features", type=int, default=256)
    args = p.parse_args()
    if not OPTDIGITS.is_file() and not args.rss:
        raise SystemExit(f"{OPTDIGITS} not found (the shared ADBench copy)")
    if args.rss:
        rss(args.tmp, args.rows, args.features)
    else:
        throughput(args.epochs, args.repeats)


if __name__ == "__main__":
    main()
