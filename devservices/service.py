"""The life cycle shared by all local services: reuse, ports, start, readiness, stop, status."""

from __future__ import annotations

import logging
import signal
import time
from typing import TYPE_CHECKING

from devservices.base import (
    HOST,
    ServiceError,
    ServiceInfo,
    exit_code,
    free_port,
    locked,
    port_answers,
    port_is_free,
    process_alive,
    read_json,
    spawn,
    state_root,
    tail,
    terminate_group,
    write_json,
)

if TYPE_CHECKING:
    from pathlib import Path

log = logging.getLogger(__name__)


class Service:
    """A local server process whose state lives in ``<state root>/<name>``."""

    name: str = ""
    port_names: tuple[str, ...] = ("port",)
    start_timeout: float = 60.0
    stop_signal: signal.Signals = signal.SIGTERM
    run_as: str | None = None  # the user the server process runs as (None: this process's user)

    @property
    def dir(self) -> Path:
        """Return this service's state folder."""
        return state_root() / self.name

    @property
    def state_path(self) -> Path:
        """Return the path of ``state.json``."""
        return self.dir / "state.json"

    @property
    def log_path(self) -> Path:
        """Return the file receiving the process' stdout and stderr."""
        return self.dir / f"{self.name}.out.log"

    @property
    def data_dir(self) -> Path:
        """Return the folder holding the service's data."""
        return self.dir / "data"

    # ---- hooks for subclasses -------------------------------------------------------------------
    def check_installed(self) -> None:
        """Raise ServiceError when the server software is missing."""

    def prepare(self, ports: dict[str, int]) -> None:
        """Initialise data and configuration before the process starts (first start: create data)."""

    def command(self, ports: dict[str, int]) -> list[str]:
        """Return the command line that runs the server in the foreground."""
        raise NotImplementedError

    def env(self) -> dict[str, str] | None:
        """Return the environment of the server process (None: inherit)."""
        return None

    def probe(self, ports: dict[str, int]) -> bool:
        """Return True when the server answers its clients."""
        return port_answers(ports["port"])

    def after_ready(self, ports: dict[str, int]) -> None:
        """Run once the server answers (e.g. create users)."""

    def log_files(self) -> list[Path]:
        """Return the log files worth showing when the service fails to start."""
        return [self.log_path]

    # ---- life cycle -----------------------------------------------------------------------------
    def state(self) -> dict:
        """Return the recorded state (``{}`` when never started)."""
        return read_json(self.state_path)

    def is_running(self, state: dict | None = None) -> bool:
        """Return True when the recorded process is alive and its port answers."""
        state = self.state() if state is None else state
        return process_alive(state.get("pid"), state.get("create_time")) and port_answers(
            int(state.get("port") or 0)
        )

    def info(self, started_by_us: bool = False) -> ServiceInfo | None:
        """Return where the service answers, or None when it is not running."""
        state = self.state()
        if not self.is_running(state):
            return None
        return self._info(state, started_by_us)

    def _info(self, state: dict, started_by_us: bool) -> ServiceInfo:
        """Build a ServiceInfo from a state record."""
        return ServiceInfo(
            name=self.name,
            host=state.get("host", HOST),
            port=int(state["port"]),
            pid=state.get("pid"),
            started_by_us=started_by_us,
            data_dir=str(self.data_dir),
            ports=dict(state.get("ports", {})),
        )

    def ensure_running(self) -> ServiceInfo:
        """Start the service unless it already runs; return where it answers."""
        with locked(self.dir / ".lock"):
            state = self.state()
            if self.is_running(state):
                log.info("%s already running (pid %s, port %s)", self.name, state["pid"], state["port"])
                return self._info(state, started_by_us=False)
            if process_alive(state.get("pid"), state.get("create_time")):
                log.warning(
                    "%s pid %s is alive but its port does not answer: restarting", self.name, state["pid"]
                )
                terminate_group(state["pid"], state.get("create_time"))
            return self._start(state)

    def _choose_ports(self, state: dict) -> dict[str, int]:
        """Reuse the recorded ports when they are free, else pick free ones."""
        old = state.get("ports", {})
        ports: dict[str, int] = {}
        for key in self.port_names:
            port = old.get(key)
            if not (port and port_is_free(port) and port not in ports.values()):
                port = free_port(avoid=set(ports.values()))
            ports[key] = port
        return ports

    def _start(self, state: dict) -> ServiceInfo:
        """Prepare, spawn and wait for the service; raise ServiceError with its log tail on failure."""
        self.check_installed()
        self.dir.mkdir(parents=True, exist_ok=True)
        t0 = time.monotonic()
        ports = self._choose_ports(state)
        self.prepare(ports)
        cmd = self.command(ports)
        proc = spawn(cmd, self.log_path, cwd=self.dir, env=self.env(), user=self.run_as)
        state = {
            "name": self.name,
            "pid": proc.pid,
            "create_time": proc.create_time(),
            "host": HOST,
            "port": ports["port"],
            "ports": ports,
            "command": cmd,
            "data_dir": str(self.data_dir),
            "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        write_json(self.state_path, state)
        try:
            self._wait_ready(proc.pid, state, ports)
            self.after_ready(ports)
        except BaseException as exc:
            terminate_group(proc.pid, state["create_time"], timeout=10)
            if isinstance(exc, Exception) and not isinstance(exc, ServiceError):
                raise ServiceError(self._failure(f"{self.name} set-up after start failed: {exc}")) from exc
            raise
        state["ready_after_s"] = round(time.monotonic() - t0, 2)
        write_json(self.state_path, state)
        log.info(
            "%s started on %s:%s (pid %s) in %.1f s",
            self.name,
            HOST,
            ports["port"],
            proc.pid,
            state["ready_after_s"],
        )
        return self._info(state, started_by_us=True)

    def _wait_ready(self, pid: int, state: dict, ports: dict[str, int]) -> None:
        """Poll ``probe`` until it answers; fail fast when the process exits or time runs out."""
        deadline = time.monotonic() + self.start_timeout
        while True:
            if not process_alive(pid, state["create_time"]):
                code = exit_code(pid)
                raise ServiceError(self._failure(f"{self.name} exited during start-up (exit code {code})"))
            try:
                if self.probe(ports):
                    return
            except Exception as exc:  # noqa: BLE001 - any client error means "not ready yet"
                log.debug("%s not ready: %s", self.name, exc)
            if time.monotonic() > deadline:
                raise ServiceError(self._failure(f"{self.name} not ready after {self.start_timeout:.0f} s"))
            time.sleep(0.25)

    def _failure(self, message: str) -> str:
        """Return ``message`` followed by the tails of the service's logs."""
        parts = [message]
        for path in self.log_files():
            text = tail(path)
            if text:
                parts.append(f"--- tail of {path} ---\n{text}")
        return "\n".join(parts)

    def stop(self) -> bool:
        """Stop the recorded process group; return True when something was running."""
        if not self.state_path.exists():
            return False
        with locked(self.dir / ".lock"):
            state = self.state()
            pid = state.get("pid")
            if not process_alive(pid, state.get("create_time")):
                return False
            terminate_group(pid, state.get("create_time"), sig=self.stop_signal)
            if process_alive(pid, state.get("create_time")):
                raise ServiceError(f"{self.name} pid {pid} survived SIGKILL")
            state["stopped_at"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
            write_json(self.state_path, state)
            log.info("%s stopped (pid %s)", self.name, pid)
            return True
