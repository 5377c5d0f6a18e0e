"""The double's TCP server: one thread per client connection, commands dispatched as obbinlog does.

``src/binlog/cmd_processor.cpp`` (v4 line): ``COM_QUERY`` goes to the SQL processor, ``COM_BINLOG_DUMP`` and
``COM_BINLOG_DUMP_GTID`` start a dumper on the connection (which then belongs to it), ``COM_REGISTER_SLAVE``
and
``COM_QUIT`` get an OK packet. ``COM_PING`` and ``COM_INIT_DB`` get OK so that ordinary clients work; any
other
command is 1047 "Unknown command".
"""

from __future__ import annotations

import itertools
import logging
import socket
import socketserver
import threading
from typing import TYPE_CHECKING

from devservices.obbinlog.dumper import Dumper, parse_dump, parse_dump_gtid
from devservices.obbinlog.protocol import Conn
from devservices.obbinlog.sql import Sql

if TYPE_CHECKING:
    from devservices.obbinlog.store import BinlogStore
    from devservices.obbinlog.variables import Variables

log = logging.getLogger(__name__)
COM_QUIT, COM_INIT_DB, COM_QUERY, COM_PING = 0x01, 0x02, 0x03, 0x0E
COM_BINLOG_DUMP, COM_REGISTER_SLAVE, COM_BINLOG_DUMP_GTID = 0x12, 0x15, 0x1E
_IDS = itertools.count(1)


class _Handler(socketserver.BaseRequestHandler):
    """Serve one connection until the client leaves or a dump ends."""

    server: Server

    def handle(self) -> None:
        """
        Handshake, then commands. ``TCP_NODELAY``: the double writes a result set's head and rows (and a
        dump's batch and its heartbeat) separately, which Nagle's algorithm held back until the client's
        delayed ACK, about 40 ms per query; a harness artefact, not a modelled behaviour of obbinlog.
        """
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn = Conn(self.request, next(_IDS))
        if not conn.handshake(self.server.variables.handshake_version):
            return
        session: dict[str, str] = {}
        sql = Sql(conn, self.server.store, self.server.variables, session)
        while True:
            packet = conn.read()
            if not packet:
                return
            command = packet[0]
            if command == COM_QUERY:
                sql.answer(packet[1:].decode("utf-8", "replace"))
            elif command in (COM_BINLOG_DUMP, COM_BINLOG_DUMP_GTID):
                self._dump(conn, packet, session)
                return
            elif command == COM_QUIT:
                return
            elif command in (COM_PING, COM_INIT_DB, COM_REGISTER_SLAVE):
                conn.ok()
            else:
                conn.err(1047, "Unknown command", "08S01")

    def _dump(self, conn: Conn, packet: bytes, session: dict[str, str]) -> None:
        """Run a dump on this connection; it owns the connection until it ends."""
        if packet[0] == COM_BINLOG_DUMP:
            file, pos, flags = parse_dump(packet)
            gtids = None
        else:
            file, pos, flags, gtids = parse_dump_gtid(packet)
        log.info("dump from %s:%s flags %s gtid %s", file, pos, flags, gtids is not None)
        Dumper(conn, self.server.store, session, flags, gtids).run(file, pos)


class Server(socketserver.ThreadingTCPServer):
    """
    The listening socket.

    :param address: (host, port) to bind
    :param store: the binlog files
    :param variables: the variables of the chosen front
    """

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], store: BinlogStore, variables: Variables) -> None:
        self.store, self.variables = store, variables
        super().__init__(address, _Handler)

    def serve_in_thread(self) -> threading.Thread:
        """Start serving in a daemon thread."""
        thread = threading.Thread(target=self.serve_forever, name="obbinlog-server", daemon=True)
        thread.start()
        return thread
