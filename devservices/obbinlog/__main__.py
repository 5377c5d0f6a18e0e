"""``python -m devservices.obbinlog --port P --data-dir D --mariadb-port M``: run the double (foreground)."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import threading
from pathlib import Path

from devservices.obbinlog.server import Server
from devservices.obbinlog.store import BinlogStore
from devservices.obbinlog.tailer import Tailer
from devservices.obbinlog.variables import Variables

log = logging.getLogger("devservices.obbinlog")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line; each knob also has an ``OBKAFKA_OBBINLOG_*`` environment default."""
    env = os.environ.get
    p = argparse.ArgumentParser(prog="python -m devservices.obbinlog", description=__doc__)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--data-dir", type=Path, required=True)
    p.add_argument("--mariadb-host", default="127.0.0.1")
    p.add_argument("--mariadb-port", type=int, required=True)
    p.add_argument("--max-binlog-size", type=int, default=int(env("OBKAFKA_OBBINLOG_MAX_SIZE", "65536")))
    p.add_argument("--server-id", type=int, default=int(env("OBKAFKA_OBBINLOG_SERVER_ID", "1147473732")))
    p.add_argument(
        "--replica-server-id", type=int, default=int(env("OBKAFKA_OBBINLOG_REPLICA_ID", "4004004"))
    )
    p.add_argument("--front", choices=("odp", "direct"), default=env("OBKAFKA_OBBINLOG_FRONT", "odp"))
    p.add_argument("-v", "--verbose", action="store_true")
    return p.parse_args(argv)


def _save_loop(store: BinlogStore, done: threading.Event) -> None:
    """Write the state every 100 ms while it changes (appends write it at most that often themselves)."""
    while not done.wait(0.1):
        store.save_if_due()


def main(argv: list[str] | None = None) -> int:
    """Open the store, start tailing MariaDB and serving clients; stop cleanly on SIGTERM/SIGINT."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")  # fmt: skip
    args.data_dir.mkdir(parents=True, exist_ok=True)
    store = BinlogStore(args.data_dir, args.server_id, args.max_binlog_size)
    settings = {"host": args.mariadb_host, "port": args.mariadb_port, "user": "root", "passwd": ""}
    tailer = Tailer(store, settings, args.replica_server_id)
    server = Server((args.host, args.port), store, Variables(store, args.server_id, args.front))
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    tailer.start()
    server.serve_in_thread()
    saver = threading.Thread(target=_save_loop, args=(store, done), name="obbinlog-saver", daemon=True)
    saver.start()
    log.info("obbinlog double on %s:%s (front %s, uuid %s, max size %s)", args.host, args.port, args.front,
             store.uuid, args.max_binlog_size)  # fmt: skip
    done.wait()
    log.info("stopping")
    tailer.stop()
    server.shutdown()
    with store.cond:  # no append can be half done past this point
        store.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
