"""TorchServe: a ``.mar`` archive of an aezoo artifact and the handler that serves it."""
