"""The DAG factory: project files in, DAGs out; a broken file shows its report and hides no other project."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import pendulum
import pytest
from airflow.sdk import Asset, AssetAlias
from airflow.sdk.exceptions import AirflowFailException, ParamValidationError
from airflow.serialization.encoders import coerce_to_core_timetable
from airflow.serialization.serialized_objects import DagSerialization

from airflow_provider_obkafka.dag_factory import build_dag, dag_id_for, load_project_dags, topic_asset
from airflow_provider_obkafka.dag_factory.callbacks import skip_when_incremental_started
from airflow_provider_obkafka.models.loader import load_project, parse_project

REPO = Path(__file__).resolve().parents[2]
DAG_FILE = REPO / "dags" / "obkafka_projects.py"
NOW = pendulum.datetime(2025, 6, 1, tz="UTC")

CONTINUOUS = """
name: orders_sync
description: Orders to Kafka.
tags: [shop, prod]
destination: {conn_id: kafka_main}
sync_types: [schema, full, incremental]
objects:
  - {database: shop, tables: [orders], topic: {mode: new, name: shop.orders}}
  - {database: shop, tables: [customers, products], topic: {mode: batch}}
  - {database: shop, tables: ["log_*"], topic: {mode: batch}}
"""
SCHEDULED_CHINESE = """
name: 订单同步
sync_types: [schema, incremental]
incremental: {schedule: "*/5 * * * *", dml: [INSERT]}
objects:
  - {database: crm, tables: [users], topic: {mode: new, name: crm.users}}
"""
FULL_ONLY = {
    "name": "archive-full",
    "sync_types": ["full"],
    "objects": [{"database": "arch", "tables": ["t1"], "topic": {"mode": "existing", "name": "arch.t1"}}],
}
BROKEN = """
name: broken_project
sync_types: [schema, fulll]
objects:
  - {database: shop, tables: [orders], topic: {mode: new, name: "x"}}
"""


@pytest.fixture
def projects(tmp_path: Path) -> Path:
    folder = tmp_path / "projects"
    folder.mkdir()
    (folder / "a_orders.yaml").write_text(CONTINUOUS)
    (folder / "b_订单.yml").write_text(SCHEDULED_CHINESE, encoding="utf-8")
    (folder / "c_archive.json").write_text(json.dumps(FULL_ONLY))
    (folder / "d_broken.yaml").write_text(BROKEN)
    (folder / "notes.txt").write_text("not a project")
    (folder / ".e_orders.yaml.swp").write_text("editor swap file")
    return folder


def _deps(dag) -> dict[str, list[str]]:
    return {task.task_id: sorted(task.downstream_task_ids) for task in dag.tasks}


def test_dag_ids_are_ascii_and_display_names_keep_the_project_name():
    assert dag_id_for("orders_sync") == "obkafka__orders_sync"
    chinese = dag_id_for("订单同步")
    assert chinese.startswith("obkafka__xn--")
    assert chinese.isascii()
    assert chinese == dag_id_for("订单同步") != dag_id_for("订单同步2"), "stable and distinct"
    with pytest.raises(ValueError, match="must be 1 to 64 characters"):
        dag_id_for("has space")


def test_folder_loads_every_valid_project_and_a_placeholder_for_the_broken_one(projects: Path):
    dags = load_project_dags(projects, now=NOW)
    chinese = dag_id_for("订单同步")
    assert sorted(dags) == sorted(
        ["obkafka__orders_sync", chinese, "obkafka__archive-full", "obkafka__broken_project"]
    )
    assert dags[chinese].dag_display_name == "订单同步"
    assert all(dag.is_paused_upon_creation is True for dag in dags.values()), "OMS Save: created paused"

    broken = dags["obkafka__broken_project"]
    assert "obkafka:invalid" in broken.tags
    assert "invalid project file" in broken.dag_display_name
    assert "d_broken.yaml has 2 errors" in broken.description
    assert "sync_types[1]: 'fulll'" in broken.doc_md
    assert "objects[0].topic.name: 'x'" in broken.doc_md
    for dag in dags.values():
        DagSerialization.serialize_dag(dag)  # what the DAG processor stores must hold every DAG
    (task,) = broken.tasks
    assert task.task_id == "project_file_error"
    with pytest.raises(AirflowFailException, match="must be one of schema, full, incremental"):
        task.execute({})


def test_continuous_project_dag(projects: Path):
    dag = load_project_dags(projects, now=NOW)["obkafka__orders_sync"]
    assert _deps(dag) == {
        "precheck": ["schema_sync"],
        "schema_sync": ["full_sync_plan"],
        "full_sync_plan": ["full_sync", "full_sync_finish"],
        "full_sync": ["full_sync_report"],
        "full_sync_report": ["full_sync_finish"],
        "full_sync_finish": ["incremental_sync"],
        "incremental_sync": [],
    }
    assert dag.tags == {"obkafka", "shop", "prod"}
    assert coerce_to_core_timetable(dag.timetable).summary == "@continuous", "a new run once one ends, failed too"
    assert dag.max_active_runs == 1
    assert not dag.catchup
    assert "Orders to Kafka." in dag.description
    assert "schema + full + incremental" in dag.description
    assert "| shop | log_* | – | `Topic_shop_${table}` (batch) |" in dag.doc_md
    incremental = dag.get_task("incremental_sync")
    assert incremental.trigger_rule == "none_failed", "runs when the full sync was skipped"
    assert incremental.outlets == [
        Asset("kafka://kafka_main/Topic_shop_customers"),
        Asset("kafka://kafka_main/Topic_shop_products"),
        Asset("kafka://kafka_main/shop.orders"),
        AssetAlias("obkafka__orders_sync/topics"),
        AssetAlias("obkafka__orders_sync/batch_topics"),
    ], "the connection-id form statically; the broker form (known at run time) through the topics alias"
    assert incremental.continuous, "no schedule: follows the log without end"
    assert incremental.idle_before_defer_s == 30, "streams while changes flow; defers after 30 s idle"
    assert dag.get_task("full_sync").partial_kwargs["outlets"] == [], (
        "chunks emit no asset event: concurrent chunks raced to register the topic's Asset"
    )
    assert dag.get_task("full_sync_report").outlets == [AssetAlias("obkafka__orders_sync/full_sync")]
    assert set(dag.params) == {"tables", "incremental_skip_to"}, "no start timestamp with full sync (OMS: the project start)"
    assert incremental.skip_to == "{{ params.incremental_skip_to }}"
    assert dag.params.get_param("tables").schema["type"] == "array"


def test_scheduled_incremental_project_dag(projects: Path):
    dag = load_project_dags(projects, now=NOW)[dag_id_for("订单同步")]
    assert _deps(dag) == {
        "precheck": ["schema_sync"],
        "schema_sync": ["incremental_sync"],
        "incremental_sync": [],
    }
    assert dag.tags == {"obkafka"}
    assert dag.timetable.expression == "*/5 * * * *"
    assert not dag.catchup
    assert dag.max_active_runs == 1
    interval = coerce_to_core_timetable(dag.timetable).infer_manual_data_interval(
        run_after=pendulum.datetime(2025, 6, 1, 10, 7, tz="UTC")
    )
    assert (interval.start.minute, interval.end.minute) == (0, 5), "a run covers [start, end) of its interval"
    incremental = dag.get_task("incremental_sync")
    assert incremental.outlets == [topic_asset("kafka_default", "crm.users"), AssetAlias(f"{dag.dag_id}/topics")]
    assert not incremental.continuous, "scheduled runs end with their data interval"
    assert incremental.start_timestamp == "{{ params.incremental_start_timestamp }}"
    assert set(dag.params) == {"incremental_start_timestamp", "incremental_skip_to"}
    skip = dag.params.get_param("incremental_skip_to")
    assert skip.value == "" and skip.schema["pattern"] == r"^$|^\S+:[0-9]+$", "empty: no skip; else file:offset"
    dag.params.validate()  # the default "" is valid
    param = dag.params.get_param("incremental_start_timestamp")
    assert param.resolve("2025-05-01T08:00:00+08:00") == "2025-05-01T08:00:00+08:00"
    with pytest.raises(ParamValidationError):
        param.resolve("yesterday")


def test_full_only_project_from_json(projects: Path):
    dag = load_project_dags(projects, now=NOW)["obkafka__archive-full"]
    assert _deps(dag) == {"precheck": ["full_sync_plan"], "full_sync_plan": ["full_sync", "full_sync_finish"],
                          "full_sync": ["full_sync_report"], "full_sync_report": ["full_sync_finish"],
                          "full_sync_finish": []}  # fmt: skip
    assert dag.get_task("full_sync_plan")._pre_execute_hook is None, (
        "without incremental every run is a full sync"
    )
    with pytest.raises(ParamValidationError):
        dag.params.get_param("tables").resolve(["arch"])


def test_chunk_size_and_render_on_server_options_reach_the_tasks():
    assert build_dag(parse_project(FULL_ONLY)).get_task("full_sync_plan").chunk_size == 100_000
    small = parse_project({**FULL_ONLY, "options": {"chunk_size": 250, "render_on_server": False}})
    assert build_dag(small).get_task("full_sync_plan").chunk_size == 250
    assert build_dag(parse_project(FULL_ONLY)).get_task("full_sync").partial_kwargs["render_on_server"] is True
    assert build_dag(small).get_task("full_sync").partial_kwargs["render_on_server"] is False


def test_defer_hold_option_reaches_the_incremental_task():
    task = build_dag(parse_project(_incremental_only(None))).get_task("incremental_sync")
    assert task.defer_hold_s == 10, "by default the trigger fires no sooner than 10 s after the deferral"
    held = {**_incremental_only(None), "options": {"defer_hold_s": 0}}
    assert build_dag(parse_project(held)).get_task("incremental_sync").defer_hold_s == 0


def test_full_sync_work_items_option_caps_the_mapped_chunks():
    assert build_dag(parse_project(FULL_ONLY)).get_task("full_sync_plan").max_work_items is None, "one per chunk"
    packed = parse_project({**FULL_ONLY, "options": {"full_sync_work_items": 4}})
    assert build_dag(packed).get_task("full_sync_plan").max_work_items == 4


def test_tables_param_renders_to_a_list():
    project = parse_project(json.loads(json.dumps(FULL_ONLY)))

    def rendered(params: dict, conf: dict) -> object:
        plan = build_dag(project).get_task("full_sync_plan")
        plan.render_template_fields({"params": params, "dag_run": SimpleNamespace(conf=conf)})
        return plan.tables

    assert rendered({"tables": ["arch.t1"]}, {}) == ["arch.t1"]
    assert rendered({"tables": []}, {"tables": ["a.b"]}) == ["a.b"], "the trigger form's value"
    assert build_dag(project).get_task("full_sync_plan").render_template("42", {}) == "42", (
        "no native rendering"
    )


def test_hooks_that_decide_what_a_run_does():
    # tables given: a full sync of them, with no need to look at the checkpoint (no Kafka here)
    assert skip_when_incremental_started({"name": "x"}, {"params": {"tables": ["a.b"]}}) is None


def test_same_project_name_in_two_files_is_reported(tmp_path: Path):
    (tmp_path / "one.yaml").write_text(SCHEDULED_CHINESE, encoding="utf-8")
    (tmp_path / "two.yaml").write_text(SCHEDULED_CHINESE, encoding="utf-8")
    dags = load_project_dags(tmp_path, now=NOW)
    (dag,) = dags.values()
    assert "obkafka:invalid" in dag.tags
    assert "one.yaml and" in dag.doc_md
    assert "two.yaml" in dag.doc_md


def test_bad_schedule_and_unreadable_name_are_reported(tmp_path: Path):
    bad_cron = SCHEDULED_CHINESE.replace("*/5 * * * *", "every five minutes")
    (tmp_path / "cron.yaml").write_text(bad_cron, encoding="utf-8")
    (tmp_path / "syntax.yaml").write_text("name: [unclosed\n")
    dags = load_project_dags(tmp_path, now=NOW)
    assert "incremental.schedule: 'every five minutes'" in dags[dag_id_for("订单同步")].doc_md
    assert "is not valid YAML" in dags["obkafka__invalid__syntax"].doc_md


def test_missing_folder_gives_no_dag(tmp_path: Path):
    assert load_project_dags(tmp_path / "nothing") == {}


def test_example_project_is_valid_and_builds():
    project = load_project(REPO / "dags" / "projects" / "example_orders.yaml")
    dag = build_dag(project, source_path="dags/projects/example_orders.yaml")
    assert dag.dag_id == "obkafka__orders_to_kafka"
    assert {"demo", "orders", "obkafka"} == dag.tags
    assert "incremental_sync" in dag.task_ids


def test_airflow_dagbag_loads_the_dag_file(tmp_path: Path, projects: Path, monkeypatch: pytest.MonkeyPatch):
    from airflow.dag_processing.dagbag import DagBag

    dags_folder = tmp_path / "dags"
    dags_folder.mkdir()
    shutil.copy(DAG_FILE, dags_folder / DAG_FILE.name)
    monkeypatch.setenv("OBKAFKA_PROJECTS_DIR", str(projects))
    bag = DagBag(dag_folder=str(dags_folder))
    assert bag.import_errors == {}, "a broken project file does not break the DAG file"
    assert sorted(bag.dag_ids) == sorted(
        ["obkafka__orders_sync", dag_id_for("订单同步"), "obkafka__archive-full", "obkafka__broken_project"]
    )
    assert bag.dags["obkafka__broken_project"].tags >= {"obkafka:invalid"}
    assert bag.dags["obkafka__orders_sync"].get_task("full_sync").is_mapped


def _incremental_only(schedule: str | None) -> dict:
    return {
        "name": "inc_only",
        "sync_types": ["incremental"],
        "incremental": {"schedule": schedule},
        "objects": [{"database": "d", "tables": ["t"], "topic": {"mode": "existing", "name": "d.t1"}}],
    }


@pytest.mark.parametrize(("schedule", "continuous"), [(None, True), ("@hourly", False)])
def test_incremental_task_stops_at_the_interval_end_only_on_a_schedule(schedule, continuous):
    task = build_dag(parse_project(_incremental_only(schedule))).get_task("incremental_sync")
    assert task.continuous is continuous
    assert task.stream_end({"data_interval_end": NOW}) == (None if continuous else NOW)


def test_full_sync_report_emits_one_event_per_topic_with_totals(monkeypatch: pytest.MonkeyPatch):
    from airflow.sdk.execution_time.context import OutletEventAccessors

    connection = {"conn_type": "kafka", "extra": {"bootstrap.servers": "SASL_SSL://b1.example:9093,b2.example:9093"}}
    monkeypatch.setenv("AIRFLOW_CONN_KAFKA_DEFAULT", json.dumps(connection))

    project = parse_project(json.loads(json.dumps(FULL_ONLY)))
    report = build_dag(project).get_task("full_sync_report")
    results = [
        {"topic": "shop.orders", "rows": 40, "chunk": 0},
        {"topic": "shop.orders", "rows": 2, "chunk": 1, "skipped": True},
        {"topic": "shop.users", "rows": 7, "chunk": 0},
        None,  # a chunk returning nothing is left out
    ]
    report.results = results
    events = OutletEventAccessors()
    assert report.execute({"outlet_events": events}) == {
        "shop.orders": {"rows": 42, "chunks": 2, "skipped": 1},
        "shop.users": {"rows": 7, "chunks": 1, "skipped": 0},
    }
    emitted = events[AssetAlias("obkafka__archive-full/full_sync")].asset_alias_events
    assert [(event.dest_asset_key.uri, event.extra) for event in emitted] == [
        ("kafka://b1.example:9093/shop.orders", {"rows": 42, "chunks": 2}),
        ("kafka://kafka_default/shop.orders", {"rows": 42, "chunks": 2}),
        ("kafka://b1.example:9093/shop.users", {"rows": 7, "chunks": 1}),
        ("kafka://kafka_default/shop.users", {"rows": 7, "chunks": 1}),
    ], "one event per topic (and URI form), not one per chunk: the Kafka provider's broker form, then the old one"


def test_dag_file_reads_the_projects_beside_it_by_default(monkeypatch: pytest.MonkeyPatch):
    from airflow.dag_processing.dagbag import DagBag

    monkeypatch.delenv("OBKAFKA_PROJECTS_DIR", raising=False)
    bag = DagBag(dag_folder=str(DAG_FILE))
    assert bag.import_errors == {}
    assert "obkafka__orders_to_kafka" in bag.dags, "dags/projects/example_orders.yaml"
    assert not [dag_id for dag_id, dag in bag.dags.items() if "obkafka:invalid" in dag.tags]


@pytest.mark.parametrize(
    ("types", "incremental", "after", "mode"),
    [
        (["full", "verify"], {}, "full_sync_finish", "full"),
        (["schema", "full", "incremental", "verify"], {}, "full_sync_finish", "full"),  # continuous: never ends
        (["schema", "full", "incremental", "verify"], {"schedule": "@hourly"}, "incremental_sync", "auto"),
        (["schema", "incremental", "verify"], {"schedule": "@hourly"}, "incremental_sync", "incremental"),
    ],
)
def test_verify_task_follows_the_sync_it_checks(types, incremental, after, mode):
    data = {**FULL_ONLY, "sync_types": types, **({"incremental": incremental} if incremental else {})}
    dag = build_dag(parse_project(data, now=NOW))
    deps = _deps(dag)
    assert deps[after] == ["verify"] or "verify" in deps[after]
    verify = dag.get_task("verify")
    assert verify.settings["mode"] == mode
    assert verify.trigger_rule == "none_failed", "runs when the full sync was skipped"
    assert "verify" in dag.description


def test_batch_size_and_retry_window_options_reach_the_incremental_task():
    task = build_dag(parse_project(_incremental_only(None))).get_task("incremental_sync")
    assert (task.batch_size, task.retry_for_s) == (10_000, 600)
    tuned = {**_incremental_only(None), "options": {"batch_size": 500, "retry_for_s": 3600}}
    task = build_dag(parse_project(tuned)).get_task("incremental_sync")
    assert (task.batch_size, task.retry_for_s) == (500, 3600)


@pytest.mark.parametrize(("chunks", "limit", "sizes"), [(5, 5, None), (23, 6, [4, 4, 4, 4, 4, 3]), (7, 1, [7])])
def test_work_items_of_several_chunks_stay_within_the_map_limit(chunks, limit, sizes):
    from airflow_provider_obkafka.operators.full_sync_plan import pack_work, work_chunks

    items = [{"sync_id": "s", "chunk": {"index": i}} for i in range(chunks)]
    packed = pack_work(items, limit)
    assert len(packed) <= limit
    if sizes is None:
        assert packed == items, "within the limit: one chunk per work item, as before"
    else:
        assert [len(item["chunks"]) for item in packed] == sizes
    assert [chunk for item in packed for chunk in work_chunks(item)] == items, "every chunk once, in order"


def test_full_sync_report_counts_the_chunks_of_packed_work_items():
    from airflow_provider_obkafka.operators.full_sync_report import topic_totals

    results = [[{"topic": "t", "rows": 3}, {"topic": "t", "rows": 4, "skipped": True}], {"topic": "t", "rows": 1}]
    assert topic_totals(results) == {"t": {"rows": 8, "chunks": 3, "skipped": 1}}


@pytest.mark.parametrize(
    ("bootstrap", "server"),
    [("b1:9092", "b1:9092"), (" b1:9092 , b2:9092", "b1:9092"), ("SASL_SSL://b1.example:9093,b2:9093", "b1.example:9093")],
)
def test_topic_assets_name_the_first_broker_as_the_kafka_provider_does(bootstrap, server):
    from airflow_provider_obkafka.dag_factory.naming import kafka_topic_asset
    from airflow_provider_obkafka.models.naming import broker_address

    assert broker_address(bootstrap) == server
    assert kafka_topic_asset(server, "shop.orders") == Asset(f"kafka://{server}/shop.orders")


def test_a_connection_without_brokers_is_an_error_naming_the_setting():
    from airflow_provider_obkafka.models.naming import broker_address

    with pytest.raises(ValueError, match=r"bootstrap.servers ' , ' names no broker: set it on the Kafka connection"):
        broker_address(" , ")


def test_incremental_reports_its_topics_in_the_broker_form(projects: Path, monkeypatch: pytest.MonkeyPatch):
    from airflow.sdk.execution_time.context import OutletEventAccessors

    monkeypatch.setenv("AIRFLOW_CONN_KAFKA_DEFAULT", json.dumps({"conn_type": "kafka", "extra": {"bootstrap.servers": "k1:9092"}}))
    dag = load_project_dags(projects, now=NOW)[dag_id_for("订单同步")]
    incremental = dag.get_task("incremental_sync")
    events = OutletEventAccessors()
    incremental._post_execute_hook({"outlet_events": events}, None)  # what the task runner calls after execute
    emitted = events[AssetAlias(f"{dag.dag_id}/topics")].asset_alias_events
    assert [event.dest_asset_key.uri for event in emitted] == ["kafka://k1:9092/crm.users"]
