"""A StatsD server of the simplest kind, for metrics tests: a UDP socket on loopback collecting every line."""

from __future__ import annotations

import re
import socket
import threading
import time
from collections import defaultdict

LINE = re.compile(r"^(?P<name>[^:]+):(?P<value>-?[0-9.]+)\|(?P<kind>c|g|ms)(\|@[0-9.]+)?$")


class StatsdListener:
    """A StatsD server of the simplest kind: a UDP socket on loopback collecting every datagram's lines."""

    def __init__(self, port: int = 0) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", port))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.lines: list[str] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stop.is_set():
            try:
                data = self.sock.recv(65535)
            except TimeoutError:
                continue
            self.lines += data.decode().splitlines()

    def metrics(self, prefix: str) -> dict[str, list[tuple[float, str]]]:
        """Every value received per metric name starting with `prefix`, with its type (c, g, ms)."""
        found: dict[str, list[tuple[float, str]]] = defaultdict(list)
        for line in list(self.lines):
            match = LINE.match(line)
            if match and match["name"].startswith(prefix):
                found[match["name"]].append((float(match["value"]), match["kind"]))
        return found

    def wait_for(self, name: str, count: int, timeout: float = 5.0) -> list[tuple[float, str]]:
        """The values of `name` once `count` arrived, or those there are after `timeout` (UDP: sent already)."""
        deadline = time.monotonic() + timeout
        while len(values := self.metrics(name).get(name, [])) < count and time.monotonic() < deadline:
            time.sleep(0.1)
        return values

    def close(self) -> None:
        """Stop listening."""
        self.stop.set()
        self.thread.join(5)
        self.sock.close()
