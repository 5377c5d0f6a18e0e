"""Common machinery for a local service: state folder, free ports, process start/stop, readiness."""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import psutil

if TYPE_CHECKING:
    from collections.abc import Iterator

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
REPO_ROOT = Path(__file__).resolve().parent.parent
STOP_TIMEOUT = 20.0


class ServiceError(RuntimeError):
    """A service could not be prepared, started or stopped."""


@dataclass(frozen=True)
class ServiceInfo:
    """Where a running service answers, and whether this call started it."""

    name: str
    host: str
    port: int
    pid: int | None = None
    started_by_us: bool = False
    data_dir: str | None = None
    ports: dict[str, int] = field(default_factory=dict)
    servers: str | None = None  # a full bootstrap list, for an external Kafka given by override

    @property
    def address(self) -> str:
        """Return ``host:port``."""
        return f"{self.host}:{self.port}"

    @property
    def bootstrap(self) -> str:
        """Return the Kafka bootstrap servers string (``host:port``)."""
        return self.servers or self.address


def state_root() -> Path:
    """Return the folder holding all services' state (``$OBKAFKA_STATE_DIR`` or ``<repo>/.services``)."""
    return Path(os.environ.get("OBKAFKA_STATE_DIR") or REPO_ROOT / ".services").expanduser().resolve()


def port_is_free(port: int) -> bool:
    """Return True when nothing listens on ``port`` (checked on all addresses, as a server would bind)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("", port))
        except OSError:
            return False
    return True


def free_port(avoid: set[int] | None = None) -> int:
    """Return a port the kernel reports free on 127.0.0.1 and that is also free on all addresses."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((HOST, 0))
            port = sock.getsockname()[1]
        if port not in (avoid or set()) and port_is_free(port):
            return port
    raise ServiceError("could not find a free port on 127.0.0.1")


def port_answers(port: int, host: str = HOST, timeout: float = 1.0) -> bool:
    """Return True when a TCP connect to ``host:port`` succeeds."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def tail(path: Path, lines: int = 30) -> str:
    """Return the last ``lines`` lines of a text file (empty when missing)."""
    try:
        with path.open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - 64 * 1024))
            data = fh.read().decode("utf-8", "replace")
    except OSError:
        return ""
    return "\n".join(data.splitlines()[-lines:])


# Popen objects of processes started by this interpreter, kept so they are not garbage collected
# while running and so a stopped child is reaped (no zombie).
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


def process_alive(pid: int | None, create_time: float | None = None) -> bool:
    """Return True when ``pid`` runs (not a zombie) and, if given, was created at ``create_time``."""
    if not pid:
        return False
    _reap(pid)
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        return create_time is None or abs(proc.create_time() - create_time) < 1.0
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False


def _reap(pid: int) -> None:
    """Collect the exit status of ``pid`` when it is a finished child of this process."""
    popen = _CHILDREN.get(pid)
    if popen is not None:
        popen.poll()


def exit_code(pid: int) -> int | None:
    """Return the exit status of a finished child started here (None when unknown)."""
    popen = _CHILDREN.get(pid)
    return None if popen is None else popen.poll()


def group_members(pgid: int) -> list[psutil.Process]:
    """Return the live (non-zombie) processes of process group ``pgid``."""
    members = []
    for proc in psutil.process_iter(["pid", "status"]):
        try:
            if os.getpgid(proc.pid) == pgid and proc.info["status"] != psutil.STATUS_ZOMBIE:
                members.append(proc)
        except (ProcessLookupError, psutil.Error):
            continue
    return members


def spawn(
    cmd: list[str], log_path: Path, cwd: Path, env: dict[str, str] | None = None, user: str | None = None
) -> psutil.Process:
    """Start ``cmd`` in its own session with stdout/stderr appended to ``log_path`` (as ``user`` if given)."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as out:
        out.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} starting: {' '.join(cmd)}\n".encode())
        out.flush()
        popen = subprocess.Popen(  # noqa: S603 - fixed commands built by this package
            cmd,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            user=user,
        )
    _CHILDREN[popen.pid] = popen
    return psutil.Process(popen.pid)


def terminate_group(
    pid: int, create_time: float | None, timeout: float = STOP_TIMEOUT, sig: signal.Signals = signal.SIGTERM
) -> None:
    """Send ``sig`` to the process group led by ``pid``, wait up to ``timeout`` s, then SIGKILL what is left."""
    if not process_alive(pid, create_time):
        return
    try:
        pgid = os.getpgid(pid)
    except ProcessLookupError:
        return
    if pgid != pid:  # not a session leader we started: only signal the process itself
        pgid = 0
    _signal(pid, pgid, sig)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not process_alive(pid) and not (pgid and group_members(pgid)):
            return
        time.sleep(0.1)
    log.warning("pid %s did not stop within %.0f s: SIGKILL", pid, timeout)
    _signal(pid, pgid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and (process_alive(pid) or (pgid and group_members(pgid))):
        time.sleep(0.1)


def _signal(pid: int, pgid: int, sig: signal.Signals) -> None:
    """Send ``sig`` to the group ``pgid`` when set, else to ``pid``; ignore vanished processes."""
    with contextlib.suppress(ProcessLookupError):
        if pgid:
            os.killpg(pgid, sig)
        else:
            os.kill(pid, sig)


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive advisory lock on ``path`` (serialises concurrent start/stop)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def read_json(path: Path) -> dict:
    """Return the JSON object in ``path``, or ``{}`` when missing or unreadable."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def write_json(path: Path, data: dict) -> None:
    """Atomically write ``data`` as JSON to ``path``."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    tmp.replace(path)
