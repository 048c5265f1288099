"""Training rows on disk, read one chunk at a time: bounded memory for data larger than it.

A training split that :func:`aezoo.data.sources.spill.spill_source` wrote to disk comes to
the trainer as a :class:`numpy.memmap`. Indexing it at random would touch every page of
the file in each epoch (and count it in the process's resident memory); :class:`DiskRows`
instead reads one chunk of :data:`CHUNK_BYTES` with a plain file read, shuffles the rows
inside it and hands out its batches, then the next chunk, in an order shuffled every epoch
(the "shuffle buffer" of streaming data loaders). Memory is one chunk, whatever the file.
A batch never spans two chunks: the last batch of a chunk may be smaller.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

CHUNK_BYTES = 64 * 2**20


class DiskRows:
    """The rows of a C-ordered float32 ``numpy.memmap`` ``(n, n_features)``, read by chunks.

    Args:
        rows: the memmap (a leading slice ``mm[:m]`` of one too).
        chunk_bytes: bytes read at once; at least one row.

    Raises:
        ValueError: not a 2-D float32 memmap with a file behind it.
    """

    def __init__(self, rows: np.memmap, chunk_bytes: int = CHUNK_BYTES) -> None:
        if not (isinstance(rows, np.memmap) and rows.ndim == 2 and rows.dtype == np.float32):
            raise ValueError("DiskRows takes a 2-D float32 numpy.memmap")
        if rows.filename is None:
            raise ValueError("DiskRows needs a memmap backed by a file")
        self.path, self.offset = rows.filename, int(rows.offset)
        self.n, self.width = rows.shape
        self.chunk_rows = max(1, chunk_bytes // (4 * self.width))

    def __len__(self) -> int:
        return self.n

    def _read(self, start: int, stop: int) -> np.ndarray:
        with open(self.path, "rb") as f:
            f.seek(self.offset + start * self.width * 4)
            data = np.fromfile(f, np.float32, (stop - start) * self.width)
        return data.reshape(stop - start, self.width)

    def batches(
        self, batch_size: int, gen: torch.Generator
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """``(indices, rows)`` batches covering every row once, shuffled within each chunk
        and in chunk order (both drawn from ``gen``): int64 ``(b,)`` and float32
        ``(b, n_features)``."""
        starts = torch.arange(0, self.n, self.chunk_rows)
        for start in starts[torch.randperm(len(starts), generator=gen)].tolist():
            stop = min(start + self.chunk_rows, self.n)
            chunk = torch.from_numpy(self._read(start, stop))
            perm = torch.randperm(stop - start, generator=gen)
            for i in range(0, stop - start, batch_size):
                local = perm[i : i + batch_size]
                yield local + start, chunk[local]
