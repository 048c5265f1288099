"""The models a server serves, each behind its own :class:`~aezoo.runtime.batcher.Batcher`,
and hot swap: a served ``name@alias`` follows its alias in the registry.

A watcher thread resolves every followed reference each ``poll_interval_s`` through
:class:`aezoo.registry.LocalStore`'s public ``resolve``. When an alias points to another
version, that version is loaded beside the serving one, verified
against its manifest, warmed up with a real forward pass through each operation, and only
then swapped in (one dict assignment under a lock: atomic for readers). Requests already
queued on the old batcher finish there; the old batcher then closes. A version that fails
to load, verify or warm up is logged and reported (``on_event``) and the old version keeps
serving; it is not retried until the alias moves elsewhere.

Which references follow: ``name@alias``, ``name@latest`` included. A bare ``name`` is the
version it resolved to when it was loaded and never moves (registering a new version, which
moves ``latest``, does not change what a running server answers); nor do ``name@<version>``,
an artifact directory or an ``hf-hub:`` reference.

New names (``watch(..., new_names=True)``, ``aezoo serve --watch``): the watcher also lists
the registry and loads, warms up and serves every name that was not in it when the pool
loaded, at the version it resolves to then (pinned, like a bare name). A new name that
fails to load is logged and reported, and retried only once its ``latest`` moves.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from aezoo.errors import AezooError, ArtifactError, ConfigError, ModelNotFoundError
from aezoo.registry import LocalStore, resolve
from aezoo.registry.store import parse_ref
from aezoo.runtime.batcher import Batcher, BatchObserver, BatchSettings
from aezoo.runtime.loading import same_name_error
from aezoo.runtime.model import OnnxModel

log = logging.getLogger("aezoo.runtime.pool")

PoolEvent = Callable[[str, str, str, str, str], None]
"""``(kind, model, version, outcome, message)``: kind ``"load"`` or ``"swap"``, outcome
``"ok"`` or ``"failed"``."""


@dataclass
class Served:
    """One served model: what it is, where it came from and its batcher.

    Attributes:
        ref: the registry reference it follows, or ``None`` when it never moves.
        ready: its warm-up forward pass succeeded.
    """

    model: OnnxModel
    batcher: Batcher
    ref: str | None = None
    ready: bool = False
    loaded_at: float = field(default_factory=time.time)

    @property
    def name(self) -> str:
        return self.model.name

    @property
    def version(self) -> str:
        return self.model.version


def follows(ref: str) -> bool:
    """Whether a served reference follows a movable registry pointer: ``name@alias``
    (``name@latest`` included). A bare ``name`` is pinned to the version it resolved to."""
    if ref.startswith("hf-hub:") or "@" not in ref or Path(ref).expanduser().is_dir():
        return False
    try:
        _, tag = parse_ref(ref)
    except ValueError:
        return False
    return not tag.isdigit()


class ModelPool:
    """Loaded, warmed and batched models by name; optionally following their aliases.

    Args:
        batch: batching limits of every model.
        threads: onnxruntime intra-op threads per session (0 = one per physical core).
        providers: onnxruntime execution providers (see :func:`~aezoo.runtime.model.providers_for`).
        observer_for: metrics hook per model name, passed to each batcher.
        on_event: called on every load and swap (metrics, logs).
        store: the registry to follow (default :class:`LocalStore()`).
    """

    def __init__(
        self,
        batch: BatchSettings | None = None,
        threads: int = 0,
        providers: list[str] | None = None,
        observer_for: Callable[[str], BatchObserver | None] | None = None,
        on_event: PoolEvent | None = None,
        store: LocalStore | None = None,
    ) -> None:
        self.batch = batch or BatchSettings()
        self.threads, self.providers = threads, providers
        self._observer_for = observer_for or (lambda name: None)
        self._on_event = on_event or (lambda *a: None)
        self._store = store
        self._run_lock = threading.Lock()  # one run at a time on the cores, across models
        self._lock = threading.Lock()
        self._served: dict[str, Served] = {}
        self._failed: dict[str, str] = {}  # name -> version that failed (not retried)
        self._known: set[str] | None = set()  # registry names at load(): never "new"
        self._watch_new = False
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None

    # -- reading -----------------------------------------------------------
    def get(self, name: str) -> Served:
        """The serving entry of ``name``.

        Raises:
            ModelNotFoundError: no model of that name is served (the message lists them).
        """
        served = self._served.get(name)
        if served is None:
            raise ModelNotFoundError(
                f"no model named {name!r} is served here; "
                f"available models: {', '.join(self._served) or 'none'}"
            )
        return served

    def all(self) -> list[Served]:
        return list(self._served.values())

    def names(self) -> list[str]:
        return list(self._served)

    # -- loading -----------------------------------------------------------
    def add(self, model: OnnxModel, ref: str | None = None) -> Served:
        """Warm ``model`` up and serve it (replacing nothing).

        Raises:
            ConfigError: a model of that name is served already.
            Exception: whatever the warm-up forward pass raises.
        """
        if model.name in self._served:
            first = self._served[model.name]
            raise same_name_error(
                model.name,
                (str(first.ref or first.model.path), first.model.version),
                (str(ref or model.path), model.version),
            )
        model.warm_up()
        batcher = Batcher(model, self.batch, self._run_lock, self._observer_for(model.name))
        served = Served(model, batcher, ref, ready=True)
        with self._lock:
            self._served[model.name] = served
        self._on_event("load", model.name, model.version, "ok", str(model.path))
        return served

    def load(self, refs: Sequence[str] | None = None) -> None:
        """Load, warm up and serve ``refs`` (none: the latest of every registry model).

        Raises:
            ConfigError: nothing to load, or two refs name the same model.
            ModelNotFoundError, ArtifactError, IntegrityError: unknown ref, broken artifact.
        """
        store = self._store or LocalStore()
        try:
            self._known = {mv.name for mv in store.list()}
        except (AezooError, ValueError, OSError) as e:
            if not refs:
                raise
            log.warning(
                "cannot list the registry %s (%s); new names counted from later", store.root, e
            )
            self._known = None
        if not refs:
            refs = sorted(self._known)
            if not refs:
                raise ConfigError(f"no models to serve: the registry {store.root} is empty")
        for ref in refs:
            path = resolve(ref, self._store)
            self.add(self._open(path), ref if follows(ref) else None)

    def _open(self, path: Path) -> OnnxModel:
        return OnnxModel(
            path, providers=self.providers, intra_op_threads=self.threads, spinning=False
        )

    # -- following aliases -------------------------------------------------
    def refresh(self) -> list[str]:
        """Resolve every followed reference once; load, warm and swap in what moved.

        Returns:
            Names of the models swapped by this call.
        """
        swapped = []
        store = self._store or LocalStore()
        for served in self.all():
            if served.ref is None:
                continue
            try:
                target = store.resolve(served.ref)
            except (ModelNotFoundError, ValueError, OSError) as e:
                log.warning(
                    "cannot resolve %s (keeping version %s): %s", served.ref, served.version, e
                )
                continue
            if target.path == served.model.path or self._failed.get(served.name) == target.version:
                continue
            self._failed.pop(served.name, None)
            if self._swap(served, target.path, target.version):
                swapped.append(served.name)
        return swapped

    def _swap(self, old: Served, path: Path, version: str) -> bool:
        start = time.perf_counter()
        try:
            model = self._open(path)
            if model.name != old.name:
                raise ArtifactError(f"{path} is model {model.name!r}, not {old.name!r}")
            model.warm_up()
        except Exception as e:
            self._failed[old.name] = version
            log.error(
                "model %s: version %s failed to load (%s: %s); version %s keeps serving",
                old.name, version, type(e).__name__, e, old.version,
            )  # fmt: skip
            self._on_event("load", old.name, version, "failed", f"{type(e).__name__}: {e}")
            return False
        self._on_event("load", model.name, model.version, "ok", str(path))
        batcher = Batcher(model, self.batch, self._run_lock, self._observer_for(model.name))
        with self._lock:
            self._served[old.name] = Served(model, batcher, old.ref, ready=True)
        # queued requests finish on the old version; then its worker stops
        threading.Thread(target=old.batcher.close, name="aezoo-retire", daemon=True).start()
        log.info(
            "model %s: swapped version %s -> %s in %.2f s",
            old.name, old.version, model.version, time.perf_counter() - start,
        )  # fmt: skip
        self._on_event("swap", model.name, model.version, "ok", f"from {old.version}")
        return True

    def load_new_names(self) -> list[str]:
        """Load, warm up and serve every registry name that was not there when :meth:`load`
        ran and is not served yet, at the version it resolves to now (pinned).

        Returns:
            Names of the models added by this call. A name that fails to load is logged
            and reported (``on_event``) and not retried until its ``latest`` moves.
        """
        added: list[str] = []
        store = self._store or LocalStore()
        listed = store.list()
        if self._known is None:  # the registry could not be listed at load(): start now
            self._known = {mv.name for mv in listed}
        for mv in listed:
            if mv.name in self._known or mv.name in self._served:
                continue
            if self._failed.get(mv.name) == mv.version:
                continue
            try:
                model = self._open(mv.path)
                if model.name != mv.name:
                    raise ArtifactError(f"{mv.path} is model {model.name!r}, not {mv.name!r}")
                self.add(model)
            except Exception as e:
                self._failed[mv.name] = mv.version
                log.error(
                    "new model %s: version %s failed to load (%s: %s); not served",
                    mv.name, mv.version, type(e).__name__, e,
                )  # fmt: skip
                self._on_event("load", mv.name, mv.version, "failed", f"{type(e).__name__}: {e}")
                continue
            self._failed.pop(mv.name, None)
            log.info("new model %s: version %s loaded and serving", mv.name, mv.version)
            added.append(mv.name)
        return added

    def watch(self, poll_interval_s: float, new_names: bool = False) -> None:
        """Start the watcher thread: every ``poll_interval_s`` seconds, :meth:`refresh`
        (followed aliases) and, with ``new_names``, :meth:`load_new_names`.

        A no-op when the interval is <= 0, or when nothing follows an alias and
        ``new_names`` is False.
        """
        self._watch_new = self._watch_new or new_names
        if poll_interval_s <= 0 or self._watcher:
            return
        if not (self._watch_new or any(s.ref for s in self.all())):
            return

        def loop() -> None:
            while not self._stop.wait(poll_interval_s):
                try:
                    self.refresh()
                    if self._watch_new:
                        self.load_new_names()
                except Exception:  # the watcher must outlive any surprise
                    log.exception("registry watch failed")

        self._watcher = threading.Thread(target=loop, name="aezoo-watch", daemon=True)
        self._watcher.start()

    def close(self) -> None:
        """Stop watching and close every batcher (queued requests finish first)."""
        self._stop.set()
        for served in self.all():
            served.batcher.close()
