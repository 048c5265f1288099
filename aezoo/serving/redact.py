"""Error messages for clients carry no absolute path of the server's file system.

Artifact errors name the file they are about with its absolute path (right for a CLI and
the server log); an HTTP answer keeps only the last component of each path, so a client
learns which file, never where the registry or the package lives.
"""

from __future__ import annotations

import re

# An absolute POSIX path: a "/" (or "~/") not preceded by a name, URL or path character,
# then at least two "segment/" (so that a route such as /v1/models stays); the directories
# are dropped, the last component is kept.
_DIRECTORIES = re.compile(r"(?<![\w./~:-])(?:~/|/)(?:[^\s/'\"()]+/){2,}")


def without_paths(message: str) -> str:
    """``message`` with every absolute (or ``~/``) path cut to its last component.

    ``"/srv/aezoo/registry/sda-mnist/versions/2/samples.json is corrupted"`` becomes
    ``"samples.json is corrupted"``; URLs (``http://host/path``) are left alone.
    """
    return _DIRECTORIES.sub("", message)


__all__ = ["without_paths"]
