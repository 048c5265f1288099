"""The gallery and playground at ``/``, and the read-only route for a model's public files.

The page (``aezoo/serving/http/static/``) is plain HTML, CSS and JavaScript modules: no
build step, nothing fetched from another host (marked and DOMPurify are vendored
with their licences under ``static/vendor/``). It talks to the same public v1 API
as any client: ``GET /v1/models``, ``GET /v1/models/{name}``, the operations, and
the two routes added here::

    GET /v1/models/{name}/files          the model's public files: path, size, sha256
    GET /v1/models/{name}/files/{path}   one of them: figures/*.png or samples.json

A whole-image denoiser (``config.denoiser``) gets the photo playground (``static/js/photo.js``)
instead: its ``samples.json`` (``aezoo-samples/1``, ``inputs`` may be empty) carries
``images``, small grayscale crops, each either a base64 PNG or rows of uint8 pixels::

    {"format": "aezoo-samples/1", "source": "BSD68 test images, 96x96 centre crops",
     "labels": ["test001", ...], "inputs": [],
     "images": [{"label": "test001", "png": "<base64 of an 8-bit grey PNG>"},
                {"label": "test002", "pixels": [[0..255, ...], ...]}]}

Keep them small (a few crops of at most 256x256: the page shows them unscaled and the file
is sent whole).

Only files listed in the artifact's manifest and matching its sha256 are served;
weights, graphs and everything else stay private. ``aezoo serve --no-ui`` drops
the page (``/`` and ``/ui``); the file routes are API and stay.
"""

from __future__ import annotations

import logging
import mimetypes
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from aezoo.errors import IntegrityError
from aezoo.registry.artifact import read_manifest, verify_artifact

log = logging.getLogger("aezoo.serving")
STATIC_DIR = Path(__file__).resolve().parent / "static"
# Browsers run module scripts only with a JavaScript type; some systems map .js or .mjs
# to something else (the Windows registry, an old /etc/mime.types), so say it here.
mimetypes.add_type("text/javascript", ".js")
mimetypes.add_type("text/javascript", ".mjs")
PUBLIC_FILE = re.compile(r"^(figures/[A-Za-z0-9][A-Za-z0-9_.-]*\.png|samples\.json)$")
# The page loads only its own files; cards are sanitised too (DOMPurify), this is the backstop.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data: blob:; script-src 'self'; style-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)


class PublicFile(BaseModel):
    path: str
    size: int
    sha256: str


class PublicFiles(BaseModel):
    files: list[PublicFile]


def _not_found(message: str) -> JSONResponse:
    return JSONResponse({"error": {"type": "not_found", "message": message}}, status_code=404)


def public_files(artifact: Path) -> list[PublicFile]:
    """The manifest entries of ``artifact`` that the file routes serve, sorted by path."""
    files = read_manifest(artifact).files
    return [
        PublicFile(path=rel, size=entry.size, sha256=entry.sha256)
        for rel, entry in sorted(files.items())
        if PUBLIC_FILE.match(rel)
    ]


def add_gallery(app: FastAPI, get_model: Callable[[str], Any], ui: bool = True) -> None:
    """Add the file routes and, with ``ui``, the gallery page to ``app``.

    Args:
        app: the service's FastAPI app (its handlers turn aezoo errors into the
            uniform ``{"error": ...}`` body).
        get_model: name -> served model with a ``path`` (artifact directory); raises
            ModelNotFoundError / NotReadyError like the other v1 routes.
        ui: serve the page at ``/`` and its assets under ``/ui``.
    """
    missing = {404: {"description": "No such model, or not one of its public files."}}

    @app.get(
        "/v1/models/{name}/files", response_model=PublicFiles, tags=["models"], responses=missing
    )
    def list_files(name: str) -> dict[str, Any]:
        """The model's public files (figures/*.png, samples.json) with size and sha256."""
        return {"files": public_files(get_model(name).path)}

    @app.get(
        "/v1/models/{name}/files/{path:path}",
        tags=["models"],
        response_class=FileResponse,
        responses=missing,
    )
    async def get_file(name: str, path: str) -> Response:
        """One public file of the model's artifact, checked against its manifest sha256."""
        root = get_model(name).path
        listed = {f.path: f for f in public_files(root)}
        if path not in listed:
            served = ", ".join(listed) or "none"
            return _not_found(
                f"{path!r} is not a public file of model {name!r}; its public files: {served}"
            )
        try:
            await run_in_threadpool(verify_artifact, root, [path])
        except IntegrityError as e:  # changed on disk since the model loaded: never serve it
            log.error("model %r: %s", name, e)  # the operator's log has the absolute path
            served = get_model(name)
            raise IntegrityError(
                path,
                f"{path} of model {name!r} (version {served.version}) is missing or changed on "
                "disk since the server loaded it (its sha256 no longer matches the artifact's "
                "manifest.json); it is not served until the artifact is restored",
            ) from None
        media_type = mimetypes.guess_type(path)[0] or "application/octet-stream"
        return FileResponse(
            root / path,
            media_type=media_type,
            headers={"ETag": f'"{listed[path].sha256}"', "Cache-Control": "no-cache"},
        )

    if not ui:
        return
    app.mount("/ui", StaticFiles(directory=STATIC_DIR), name="ui")

    @app.get("/", include_in_schema=False)
    async def gallery() -> Response:
        return FileResponse(
            STATIC_DIR / "index.html",
            media_type="text/html",
            headers={
                "Content-Security-Policy": CONTENT_SECURITY_POLICY,
                "Cache-Control": "no-cache",
            },
        )
