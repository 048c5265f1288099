"""Where aezoo reads and writes (data, downloads, registry), for each command's ``--help``.

The paths are resolved from the environment when the help is shown, so the text
says where this shell's settings point, not only where the defaults are.
"""

from __future__ import annotations

import os

import platformdirs


def locations(*what: str) -> str:
    """An epilog naming the locations ``what`` (``data``, ``cache``, ``registry``, ``hub``)."""
    home = os.environ.get("AEZOO_HOME") or platformdirs.user_cache_dir("aezoo")
    cache = os.environ.get("AEZOO_CACHE_DIR") or home
    data_dir = os.environ.get("AEZOO_DATA_DIR") or "unset"
    lines = {
        "data": "MNIST      --data-dir DIR, else $AEZOO_DATA_DIR, else the download cache\n"
        f"             (now: AEZOO_DATA_DIR {data_dir}); lines are generated, patches come "
        "with scikit-learn",
        "cache": "downloads  $AEZOO_CACHE_DIR/datasets/mnist, sha256-checked; AEZOO_CACHE_DIR "
        f"defaults\n             to AEZOO_HOME (now: {cache}/datasets/mnist)",
        "registry": "registry   $AEZOO_HOME/registry; AEZOO_HOME defaults to the user cache "
        f"directory\n             (now: {home}/registry); bundled models are a read-only fallback",
        "hub": "Hub cache  $HF_HUB_CACHE (Hugging Face's); HF_HUB_OFFLINE=1 reads only from it",
    }
    return "where aezoo reads and writes:\n" + "\n".join(f"  {lines[w]}" for w in what)


__all__ = ["locations"]
