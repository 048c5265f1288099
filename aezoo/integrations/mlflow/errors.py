"""Errors of the MLflow bridge (all are :class:`aezoo.errors.AezooError`)."""

from __future__ import annotations

from aezoo.errors import AezooError, ArtifactError


class MlflowBridgeError(AezooError):
    """An MLflow step failed; nothing was left in either registry."""


class MlflowUnreachableError(MlflowBridgeError, ConnectionError):
    """The tracking server (or backend store) could not be reached; the CLI exits 2."""


class NotAezooModelError(MlflowBridgeError, ArtifactError):
    """The MLflow model is not an aezoo export; the message names what is missing."""
