"""The Kafka ApiVersions request, the one protocol call librdkafka does not expose: what a broker supports."""

from __future__ import annotations

import socket
import ssl
import struct
from typing import NamedTuple

# API keys a transactional, idempotent producer and this provider's admin calls rely on.
API_NAMES = {
    0: "Produce",
    1: "Fetch",
    2: "ListOffsets",
    3: "Metadata",
    18: "ApiVersions",
    19: "CreateTopics",
    22: "InitProducerId",
    24: "AddPartitionsToTxn",
    25: "AddOffsetsToTxn",
    26: "EndTxn",
    28: "TxnOffsetCommit",
    32: "DescribeConfigs",
    60: "DescribeCluster",
}
TRANSACTION_APIS = (22, 24, 25, 26, 28)


class ApiVersion(NamedTuple):
    """The version range a broker supports for one API."""

    key: int
    min_version: int
    max_version: int

    @property
    def name(self) -> str:
        """The API's name, or its key when this module does not know it."""
        return API_NAMES.get(self.key, f"api-{self.key}")


def request_api_versions(
    host: str, port: int, timeout: float = 10.0, ssl_context: ssl.SSLContext | None = None
) -> dict[int, ApiVersion]:
    """Send ApiVersions v0 to one broker and return its answer by API key (raises OSError on failure)."""
    client_id = b"airflow-provider-obkafka"
    body = struct.pack(">hhih", 18, 0, 1, len(client_id)) + client_id
    with socket.create_connection((host, port), timeout=timeout) as raw:
        sock = ssl_context.wrap_socket(raw, server_hostname=host) if ssl_context else raw
        sock.sendall(struct.pack(">i", len(body)) + body)
        size = struct.unpack(">i", _read_exact(sock, 4))[0]
        payload = _read_exact(sock, size)
    return parse_api_versions_v0(payload)


def parse_api_versions_v0(payload: bytes) -> dict[int, ApiVersion]:
    """Decode an ApiVersions v0 response (correlation id, error code, [key, min, max])."""
    _correlation, error_code, count = struct.unpack_from(">ihi", payload, 0)
    if error_code != 0:
        raise OSError(f"broker answered ApiVersions with error code {error_code}")
    versions = {}
    for i in range(count):
        key, low, high = struct.unpack_from(">hhh", payload, 10 + 6 * i)
        versions[key] = ApiVersion(key, low, high)
    return versions


def _read_exact(sock: socket.socket, size: int) -> bytes:
    chunks = bytearray()
    while len(chunks) < size:
        chunk = sock.recv(size - len(chunks))
        if not chunk:
            raise OSError("broker closed the connection during ApiVersions")
        chunks += chunk
    return bytes(chunks)
