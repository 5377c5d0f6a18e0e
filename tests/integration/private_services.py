"""
PRIVATE services a test may stop, pause or restart (never the shared ones): each under its own state root, with
its own data and port. Import the fixtures into a test module to use them.
"""

from __future__ import annotations

import contextlib
import os
import signal
from typing import TYPE_CHECKING

import pytest

from devservices.kafka import KafkaService
from devservices.mariadb import MariadbService

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


@contextlib.contextmanager
def _state_root(path: Path) -> Iterator[None]:
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

    def pause(self) -> None:
        """Freeze every process of the service at once (SIGSTOP to its process group): a hang, not a stop."""
        os.killpg(os.getpgid(self.info.pid), signal.SIGSTOP)

    def resume(self) -> None:
        """Let a paused service run again (SIGCONT)."""
        os.killpg(os.getpgid(self.info.pid), signal.SIGCONT)


@pytest.fixture(scope="module")
def private_mariadb(tmp_path_factory):
    service = Private(MariadbService(), tmp_path_factory.mktemp("private-mariadb"))
    yield service
    service.stop()


@pytest.fixture(scope="module")
def private_kafka(tmp_path_factory):
    service = Private(KafkaService(), tmp_path_factory.mktemp("private-kafka"))
    yield service
    with contextlib.suppress(ProcessLookupError):
        service.resume()  # a test that failed while the broker was paused must not leave it frozen
    service.stop()
