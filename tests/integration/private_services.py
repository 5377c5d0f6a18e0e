"""Private services: a test's own Kafka or MariaDB under its own state root, never the shared ones."""

from __future__ import annotations

import contextlib
import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path


@contextlib.contextmanager
def _state_root(path: Path):
    old = os.environ.get("OBKAFKA_STATE_DIR")
    os.environ["OBKAFKA_STATE_DIR"] = str(path)
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("OBKAFKA_STATE_DIR", None)
        else:
            os.environ["OBKAFKA_STATE_DIR"] = old


class Private:
    """A service of our own under its own state root (own data, own port); restarts keep the port."""

    def __init__(self, service, root: Path) -> None:
        self.service, self.root = service, root
        self.info = self.start()

    def start(self):
        with _state_root(self.root):
            info = self.service.ensure_running()
        assert getattr(self, "info", info).port == info.port, "a restart keeps the port clients know"
        return info

    def stop(self) -> None:
        with _state_root(self.root):
            self.service.stop()

    def within(self):
        """A context in which the service's own paths (state folder, certificates) resolve."""
        return _state_root(self.root)
