"""A client of Airflow 3's public REST API (`/api/v2`), used as the UI uses it: token, unpause, trigger, poll, logs."""

from __future__ import annotations

import time
from typing import Any

import httpx

FINISHED = {"success", "failed"}
TASK_FINISHED = {"success", "failed", "skipped", "upstream_failed", "removed"}


class AirflowApi:
    """The public REST API of the harness' API server, with a JWT from the simple auth manager."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")
        token = httpx.get(f"{self.base_url}/auth/token", timeout=30).raise_for_status().json()["access_token"]
        self.http = httpx.Client(
            base_url=f"{self.base_url}/api/v2", headers={"Authorization": f"Bearer {token}"}, timeout=120
        )

    def close(self) -> None:
        """Close the HTTP client."""
        self.http.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        """One request; a read that times out on a loaded machine is asked again (reads only)."""
        for attempt in range(3):
            try:
                response = self.http.request(method, path, **kwargs)
                break
            except httpx.ReadTimeout:
                if method != "GET" or attempt == 2:
                    raise
        if response.status_code >= 400:
            raise AssertionError(f"{method} {path}: HTTP {response.status_code}: {response.text[:2000]}")
        return response.json() if response.content else None

    def wait_for_dag(self, dag_id: str, timeout: float = 120.0) -> dict[str, Any]:
        """Wait until the dag-processor has parsed the DAG; return its details."""
        deadline = time.monotonic() + timeout
        while True:
            response = self.http.get(f"/dags/{dag_id}")
            if response.status_code == 200:
                return response.json()
            if time.monotonic() > deadline:
                errors = self._call("GET", "/importErrors")
                raise AssertionError(f"DAG {dag_id} not parsed after {timeout:.0f} s; import errors: {errors}")
            time.sleep(1.0)

    def unpause(self, dag_id: str) -> None:
        """Unpause the DAG (OMS "Start")."""
        self._call("PATCH", f"/dags/{dag_id}", json={"is_paused": False})

    def pause(self, dag_id: str) -> None:
        """Pause the DAG."""
        self._call("PATCH", f"/dags/{dag_id}", json={"is_paused": True})

    def trigger(self, dag_id: str, conf: dict[str, Any] | None = None) -> str:
        """Trigger a manual run with ``conf`` (the trigger form's params); return its run id."""
        run = self._call("POST", f"/dags/{dag_id}/dagRuns", json={"logical_date": None, "conf": conf or {}})
        return run["dag_run_id"]

    def run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        """The DAG run."""
        return self._call("GET", f"/dags/{dag_id}/dagRuns/{run_id}")

    def runs(self, dag_id: str) -> list[dict[str, Any]]:
        """Every run of the DAG."""
        return self._call("GET", f"/dags/{dag_id}/dagRuns", params={"limit": 100})["dag_runs"]

    def new_run(self, dag_id: str, seen: set[str], timeout: float = 120.0) -> str | None:
        """The id of a run of the DAG not in ``seen`` once there is one (the scheduler's); None after ``timeout``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            new = [run["dag_run_id"] for run in self.runs(dag_id) if run["dag_run_id"] not in seen]
            if new:
                return new[0]
            time.sleep(2.0)
        return None

    def set_run_state(self, dag_id: str, run_id: str, state: str) -> None:
        """Mark the run `success` or `failed`, as the UI's buttons do (unfinished tasks end with it)."""
        self._call("PATCH", f"/dags/{dag_id}/dagRuns/{run_id}", json={"state": state})

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        """Every task instance of the run (mapped ones one by one)."""
        found = self._call("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances", params={"limit": 1000})
        return found["task_instances"]

    def states(self, dag_id: str, run_id: str) -> dict[str, list[str]]:
        """The states of each task's instances, sorted (several for a mapped task)."""
        found: dict[str, list[str]] = {}
        for ti in self.task_instances(dag_id, run_id):
            found.setdefault(ti["task_id"], []).append(str(ti["state"]))
        return {task: sorted(states) for task, states in found.items()}

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float = 600.0) -> dict[str, Any]:
        """Poll the run until it has finished; return it."""
        deadline = time.monotonic() + timeout
        while True:
            run = self.run(dag_id, run_id)
            if run["state"] in FINISHED:
                return run
            if time.monotonic() > deadline:
                raise AssertionError(f"run {run_id} still {run['state']} after {timeout:.0f} s: "
                                     f"{self.states(dag_id, run_id)}")  # fmt: skip
            time.sleep(2.0)

    def wait_for_task(self, dag_id: str, run_id: str, task_id: str, states: set[str], timeout: float = 300.0) -> dict:
        """Poll until the (unmapped) task instance is in one of ``states``; return it."""
        deadline = time.monotonic() + timeout
        while True:
            ti = self._call("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}")
            if ti["state"] in states:
                return ti
            if ti["state"] in TASK_FINISHED or time.monotonic() > deadline:
                raise AssertionError(f"{task_id} is {ti['state']}, waited for {sorted(states)}: "
                                     f"{self.log_text(dag_id, run_id, task_id, ti['try_number'])[-3000:]}")  # fmt: skip
            time.sleep(1.0)

    def log_text(self, dag_id: str, run_id: str, task_id: str, try_number: int, map_index: int = -1) -> str:
        """A task instance try's log, as the UI's log view gets it (its events joined as text lines)."""
        path = f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/logs/{max(try_number, 1)}"
        body = self._call("GET", path, params={"map_index": map_index, "full_content": True},
                          headers={"Accept": "application/json"})  # fmt: skip
        lines = []
        for item in body.get("content") or []:
            if isinstance(item, dict):
                lines.append(" ".join(str(item.get(key, "")) for key in ("timestamp", "level", "event")))
            else:
                lines.append(str(item))
        return "\n".join(lines)

    def asset_events(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        """The asset events the run emitted."""
        found = self._call("GET", "/assets/events", params={"source_dag_id": dag_id, "source_run_id": run_id})
        return found["asset_events"]

    def delete_dag(self, dag_id: str) -> None:
        """Delete the DAG and its runs (its project file must be gone first, or it comes back)."""
        response = self.http.delete(f"/dags/{dag_id}")
        if response.status_code not in (200, 204, 404, 409):
            raise AssertionError(f"DELETE /dags/{dag_id}: HTTP {response.status_code}: {response.text[:500]}")


def set_task_state(api: AirflowApi, dag_id: str, run_id: str, task_id: str, state: str) -> None:
    """Mark an (unmapped) task instance `failed`, `success` or `skipped`, as the UI's task buttons do."""
    api._call("PATCH", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}", json={"new_state": state})
