"""FullSyncFinishOperator: close a full synchronization whose chunks are all committed."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from airflow_provider_obkafka.engine.kafka import checkpoints
from airflow_provider_obkafka.engine.kafka.sink import TransactionalSink, sink_producer_config
from airflow_provider_obkafka.hooks.kafka import KafkaHook
from airflow_provider_obkafka.operators._project import checkpoint_state, load_project, project_arg
from airflow_provider_obkafka.operators.full_sync_plan import work_chunks

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from airflow.sdk import Context

    from airflow_provider_obkafka.models.project import SyncProject


class FullSyncFinishOperator(BaseOperator):
    """
    The last step of full synchronization, after every chunk is committed: in one Kafka transaction it writes
    the finished record `full/finished/<sync_id>` and tombstones the full sync's chunk done-records and
    snapshot record, so compaction drops them. A chunk or plan of a finished full sync is then skipped by the
    finished record; a crash before the commit leaves every done-record, and a retry does it again.

    :param project: the synchronization project (a SyncProject or its JSON form)
    :param work: the work items of `FullSyncPlanOperator` (templated; its output)
    """

    template_fields: Sequence[str] = ("work",)
    ui_color = "#abebc6"

    def __init__(
        self, *, project: SyncProject | Mapping[str, Any], work: Sequence[Mapping[str, Any]] | Any, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.project = project_arg(project)
        self.work = work

    def execute(self, context: Context) -> dict[str, Any] | None:
        """Check every chunk is done, then write the finished record with the tombstones; returns it."""
        items = [chunk for item in self.work or () for chunk in work_chunks(item)]
        if not items:
            self.log.info("no chunk was planned: nothing to finish")
            return None
        project = load_project(self.project)
        sync_id = items[0]["sync_id"]
        kafka = KafkaHook(kafka_config_id=project.destination.conn_id)
        config, reports = sink_producer_config(project.options.transaction_timeout_ms)
        tid = checkpoints.transactional_id(project.slug, "full", sync_id, "finish")
        sink = TransactionalSink(kafka.producer(transactional_id=tid, **config), project.checkpoint_topic, reports)
        state = checkpoint_state(project, kafka)  # read after the fencing: no earlier try can commit any more
        finished = checkpoints.finished_key(sync_id)
        if finished in state:
            self.log.info("full sync %s was finished already: %s", sync_id, state[finished])
            return state[finished]
        records = checkpoints.finish_records(sync_id, state, [checkpoints.chunk_done_key(item) for item in items])
        sink.begin()
        for key, value in records:
            if value is None:
                sink.tombstone(key)
            else:
                sink.checkpoint(key, value)
        sink.commit()
        self.log.info("full sync %s finished: %s; %d checkpoint records tombstoned", sync_id, records[0][1],
                      len(records) - 1)  # fmt: skip
        return records[0][1]
