"""librdkafka's log for a probe: connection failures counted, not printed; every other line logged once."""

from __future__ import annotations

import logging
import re
from typing import Any

_LOGGER = logging.getLogger("airflow_provider_obkafka.librdkafka")
# librdkafka reconnects every ~50 ms to a broker that is down, one "Connect to ... failed" line each time
# (about 190 in a 10 s probe); "N/N brokers are down" repeats with them. These say only "not reachable".
_UNREACHABLE = re.compile(r"Connect to \S+ failed: |brokers are down")
# "(after 3ms in state SSL_HANDSHAKE)": the only part that differs between repeats of one failure.
_TIMING = re.compile(r"\s*\(after \d+ms in state \w+(, \d+ identical error\(s\) suppressed)?\)")
# "[thrd:host:port/bootstrap]: host:port/bootstrap: ": which broker thread, already named by the caller.
_BROKER = re.compile(r"^(\[thrd:[^\]]*\]: )?\S+/(bootstrap|\d+): ")


class ClientLog:
    """
    The `logger` of a librdkafka client (confluent-kafka calls `log(level, "%s [%s] %s", facility, client,
    text)` when the client is polled). A failure to connect is recorded, not logged: the caller reports
    it once (`summary`). Any other line goes to the `airflow_provider_obkafka.librdkafka` logger at its own
    level, each distinct line once, so a real error (a TLS handshake refused, a bad certificate) stays
    visible.
    """

    def __init__(self) -> None:
        self.refused = 0
        # the first error line: the cause, before its consequences; a later line that contains it is the same
        # failure told in more detail (librdkafka writes both forms of a TLS failure, in either order)
        self.failure: str | None = None
        self._logged: set[str] = set()

    def log(self, level: int, msg: str, *args: Any) -> None:
        """One librdkafka log line."""
        text = str(args[-1]) if args else msg
        line = _TIMING.sub("", _BROKER.sub("", text))
        if level >= logging.ERROR and (self.failure is None or self.failure in line):
            self.failure = line
        if _UNREACHABLE.search(text):
            self.refused += 1
            return
        if line in self._logged:
            return
        self._logged.add(line)
        _LOGGER.log(level, msg, *args)

    def summary(self) -> str:
        """The first failure and how many connection attempts failed, e.g. for an exception's text."""
        if self.failure is None:
            return "no answer"
        attempts = f" ({self.refused} connection attempts failed)" if self.refused else ""
        return f"{self.failure}{attempts}"
