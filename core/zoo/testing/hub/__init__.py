"""A local Hugging Face Hub for tests (``zoo.testing.HubServer``): ``_routes`` (the HTTP API, one row per
endpoint), ``_store`` (storage) and ``_server`` (lifecycle)."""

from zoo.testing.hub._server import HubServer

__all__ = ["HubServer"]
