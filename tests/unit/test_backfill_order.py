"""A backfill run of an incremental project waits for the run of the interval before it (`after_earlier_interval`)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from airflow.sdk.exceptions import AirflowFailException, TaskDeferred

from airflow_provider_obkafka.operators._incremental import after_earlier_interval
from airflow_provider_obkafka.operators.incremental_sync import IncrementalSyncOperator


class _Ti:
    """The two Task SDK calls the check makes: the previous task instance, and a run's state."""

    def __init__(self, previous: SimpleNamespace | None, run_state: str = "running") -> None:
        self.previous, self.run_state = previous, run_state

    def get_previous_ti(self) -> SimpleNamespace | None:
        return self.previous

    def get_dagrun_state(self, dag_id: str, run_id: str) -> str:
        return self.run_state


def _previous(state: str | None, run_id: str = "backfill__2026-01-01T00:00:00+00:00") -> SimpleNamespace:
    return SimpleNamespace(dag_id="d", run_id=run_id, task_id="incremental_sync", state=state)


OPERATOR = IncrementalSyncOperator(task_id="incremental_sync", project={"name": "x"})


@pytest.mark.parametrize(
    "ti",
    [
        None,  # called outside Airflow
        _Ti(None),  # the first interval
        _Ti(_previous("success")),
        _Ti(_previous("skipped")),
        _Ti(_previous("failed")),  # ended: a warning, no wait
        _Ti(_previous("running", run_id="scheduled__2026-01-01T00:00:00+00:00")),  # not a backfill's run
    ],
)
def test_goes_on_when_the_earlier_interval_has_ended(ti):
    assert after_earlier_interval(OPERATOR, {"ti": ti}, "execute_after_wait") is None


@pytest.mark.parametrize("state", [None, "scheduled", "queued", "running", "up_for_retry"])
def test_waits_in_the_triggerer_while_the_earlier_interval_runs(state):
    with pytest.raises(TaskDeferred) as deferred:
        after_earlier_interval(OPERATOR, {"ti": _Ti(_previous(state))}, "execute_after_wait")
    assert deferred.value.method_name == "execute_after_wait"
    assert hasattr(OPERATOR, deferred.value.method_name)


def test_an_earlier_interval_queued_behind_this_one_fails_and_says_why():
    with pytest.raises(AirflowFailException, match="without --run-backwards"):
        after_earlier_interval(OPERATOR, {"ti": _Ti(_previous(None), run_state="queued")}, "execute_after_wait")
