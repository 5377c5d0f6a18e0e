"""
`make demo`: the provider end to end on the local services, through Airflow.

1. Starts Kafka, seekdb and MariaDB, or reuses the running ones (services the demo starts stay up for the
   UI), and migrates a private Airflow home in `.demo/airflow` (SQLite).
2. Creates sample tables: on seekdb `orders` (100,000 rows) and `customers`; on MariaDB (ROW binlog)
   `products` and `stock_moves`. Names carry a per-run tag; the previous run's databases and topics go.
3. Writes two project files into `.demo/projects/` and runs their DAGs (`dags/obkafka_projects.py`) with
   `dag.test()`: a full synchronization from seekdb, then full + incremental synchronization from MariaDB's
   binlog while a writer commits sales, price changes and deletes; that project's schedule (every minute)
   ends the run with its data interval.
4. Reads every topic back with a read_committed consumer: messages per topic, samples, and the MariaDB
   tables rebuilt from their topics, compared with the tables.

`python scripts/demo.py ui` serves the same Airflow home with `airflow standalone` (`make ui`);
`python scripts/demo.py env` prints the environment it uses.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import shlex
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import demo_data  # noqa: E402  (beside this file)

import devservices  # noqa: E402  (the repository root is on sys.path only from here)

if TYPE_CHECKING:
    from collections.abc import Iterator

DEMO = REPO / ".demo"
HOME, PROJECTS, LOGS, STATE = DEMO / "airflow", DEMO / "projects", DEMO / "logs", DEMO / "state.json"
DAG_FILE = REPO / "dags" / "obkafka_projects.py"
UI_PORT = int(os.environ.get("OBKAFKA_UI_PORT", "8080"))
CUSTOMERS, PRODUCTS, MOVES = 5_000, 1_000, 10_000
REPLAY_COLUMNS = {"products": ["id", "stock"], "stock_moves": ["id", "product_id", "qty"]}


def say(text: str = "") -> None:
    """Print a line of the demo's report at once."""
    print(text, flush=True)


def airflow_env(infos: dict[str, Any], port: int = UI_PORT) -> dict[str, str]:
    """The demo's Airflow: private home, the provider's DAG file, the demo projects, the connections."""
    env = {
        "AIRFLOW_HOME": str(HOME),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAG_FILE.parent),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        "OBKAFKA_PROJECTS_DIR": str(PROJECTS),
    }
    env.update(devservices.airflow_env(**infos))
    return env


# What the demo uses: Kafka, seekdb and MariaDB (its binlog); not the obbinlog double, nor the real-Airflow
# harness's PostgreSQL and scheduler (the demo runs dag.test(), `make ui` its own `airflow standalone`).
SERVICES = devservices.DEFAULT_NAMES


def start_services() -> dict[str, Any]:
    """Start what is not running; say which ones the demo started (they stay up for `make ui`)."""
    infos = {}
    for name in SERVICES:
        info = infos[name] = devservices.ensure_running([name])[name]
        how = "started by the demo (left running)" if info.started_by_us else "already running (reused)"
        say(f"  {name:8} {info.address:22} {how}")
    return infos


@contextlib.contextmanager
def output_to(path: Path) -> Iterator[None]:
    """Send this process's stdout and stderr (file descriptors 1 and 2, so task logs too) to `path`."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with path.open("ab") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            for fd, original in zip((1, 2), saved, strict=True):
                os.dup2(original, fd)
                os.close(original)


def reset_previous(infos: dict[str, Any]) -> None:
    """Drop the previous run's databases and topics, and its project files (one demo in the UI at a time)."""
    from airflow.api.common.delete_dag import delete_dag
    from airflow.exceptions import DagNotFound

    from airflow_provider_obkafka.hooks.kafka import KafkaHook

    state = json.loads(STATE.read_text()) if STATE.exists() else {}
    for name, key in (("seekdb", "seekdb_db"), ("mariadb", "mariadb_db")):
        if state.get(key):
            with contextlib.closing(demo_data.connect(infos[name])) as conn, conn.cursor() as cur:
                cur.execute(f"DROP DATABASE IF EXISTS {state[key]}")
    kafka = KafkaHook()
    gone = sorted(set(state.get("topics", ())) & set(kafka.list_topics()))
    if gone:
        admin = kafka.admin_client()  # kept referenced until the futures resolve
        for future in admin.delete_topics(gone, operation_timeout=30).values():
            future.result()
    for old in PROJECTS.glob("*.yaml"):
        old.unlink()
    for dag_id in state.get("dag_ids", ()):  # their runs too: the UI shows the latest demo only
        with contextlib.suppress(DagNotFound):
            delete_dag(dag_id)


def load_dags() -> dict[str, Any]:
    """Import the DAG file as Airflow's DAG processor does; return its DAGs by id."""
    from airflow.sdk import DAG

    spec = importlib.util.spec_from_file_location("obkafka_projects", DAG_FILE)
    if spec is None or spec.loader is None:
        raise RuntimeError(f"cannot import {DAG_FILE}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return {dag.dag_id: dag for dag in vars(module).values() if isinstance(dag, DAG)}


def run_dag(dag: Any, log: Path, **kwargs: Any) -> tuple[str, float]:
    """dag.test() with its output in `log`; the run's state and the seconds it took."""
    started = time.monotonic()
    with output_to(log):
        run = dag.test(**kwargs)
    return str(run.state), time.monotonic() - started


def next_minute(after_s: float) -> datetime:
    """The first whole UTC minute at least `after_s` seconds from now."""
    moment = datetime.now(UTC) + timedelta(seconds=after_s)
    return moment.replace(second=0, microsecond=0) + timedelta(minutes=1)


def show_topic(report: demo_data.TopicReport, kinds: tuple[str, ...]) -> None:
    """One line per topic, then a sample message of each record type asked for."""
    types = ", ".join(f"{kind} {count:,}" for kind, count in sorted(report.by_type.items()))
    say(f"  {report.topic:40} {report.messages:>8,} messages ({types})")
    for kind in kinds:
        if kind in report.samples:
            key, partition, text = report.samples[kind]
            more = " …" if len(text) > 700 else ""
            say(f"      {kind} (key {key!r}, partition {partition}): {text[:700]}{more}")


def prepare(infos: dict[str, Any], orders: int) -> tuple[str, dict[str, int], dict[str, int], dict[str, Any]]:
    """Sample tables and project files for a new run; returns (tag, seekdb rows, MariaDB rows, projects)."""
    from airflow_provider_obkafka.dag_factory import dag_id_for
    from airflow_provider_obkafka.models.loader import parse_project

    reset_previous(infos)
    tag = uuid.uuid4().hex[:6]
    shop_db, stock_db = f"demo_shop_{tag}", f"demo_stock_{tag}"
    say(f"== sample data (run tag {tag})")
    started = time.monotonic()
    with contextlib.closing(demo_data.connect(infos["seekdb"])) as conn:
        shop = demo_data.create_shop(conn, shop_db, orders, CUSTOMERS)
    with contextlib.closing(demo_data.connect(infos["mariadb"])) as conn:
        stock = demo_data.create_stock(conn, stock_db, PRODUCTS, MOVES)
    for where, rows in ((f"seekdb  {shop_db}", shop), (f"MariaDB {stock_db}", stock)):
        say(f"  {where}: " + ", ".join(f"{table} {count:,} rows" for table, count in rows.items()))
    say(f"  created in {time.monotonic() - started:.1f} s")
    files = demo_data.projects(tag, shop_db, stock_db)
    parsed = {key: parse_project(data) for key, data in files.items()}
    topics = {topic for project in parsed.values() for topic in project.known_topics()}
    topics |= {project.checkpoint_topic for project in parsed.values()}
    state = {"tag": tag, "seekdb_db": shop_db, "mariadb_db": stock_db, "topics": sorted(topics),
             "dag_ids": [dag_id_for(project.name) for project in parsed.values()]}  # fmt: skip
    STATE.write_text(json.dumps(state))
    for data in files.values():
        (PROJECTS / f"{data['name']}.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    return tag, shop, stock, parsed


def run_demo(args: argparse.Namespace) -> int:
    """The whole demo; returns the exit status (1 when a run or a check failed)."""
    begin = time.monotonic()
    for folder in (HOME, PROJECTS, LOGS):
        folder.mkdir(parents=True, exist_ok=True)
    say("== local services")
    infos = start_services()
    os.environ.update(airflow_env(infos))
    say("== Airflow metadata database (.demo/airflow, SQLite)")
    migrate = subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"], capture_output=True, text=True
    )
    if migrate.returncode != 0:
        say(migrate.stdout[-3000:] + migrate.stderr[-3000:])
        return 1
    from airflow_provider_obkafka.dag_factory import dag_id_for
    from airflow_provider_obkafka.hooks.kafka import KafkaHook

    tag, shop_rows, stock_rows, parsed = prepare(infos, args.orders)
    dags = load_dags()
    ids = {key: dag_id_for(project.name) for key, project in parsed.items()}
    say(f"  project files in .demo/projects/: DAGs {', '.join(ids.values())}")

    say(f"== full synchronization: seekdb -> Kafka ({ids['shop']})")
    state, took = run_dag(dags[ids["shop"]], LOGS / f"{ids['shop']}.log")
    total = sum(shop_rows.values())
    say(f"  run {state} in {took:.1f} s: {total:,} rows, {total / took:,.0f} rows/s end to end with Airflow")
    ok = state == "success"

    logical = next_minute(args.window)
    writer = demo_data.ChangeWriter(
        infos["mariadb"], f"demo_stock_{tag}", PRODUCTS, stop_at=logical.timestamp() - 3
    )
    say(f"== full + incremental synchronization: MariaDB binlog -> Kafka ({ids['stock']})")
    say(f"  the run's data interval ends {logical:%H:%M:%S} UTC; a writer commits changes until then")
    writer.start()
    state, took = run_dag(dags[ids["stock"]], LOGS / f"{ids['stock']}.log", logical_date=logical)
    writer.join()
    changes = ", ".join(f"{kind} {count:,}" for kind, count in sorted(writer.counts.items()))
    say(f"  run {state} in {took:.1f} s; the writer committed {changes}")
    say("  (changes committed before the full sync's snapshot point reach Kafka inside its ROW messages)")
    ok &= state == "success"

    say("== read back from Kafka (read_committed)")
    kafka = KafkaHook()
    for topic in sorted(parsed["shop"].known_topics()):
        report = demo_data.read_topic(kafka, topic)
        show_topic(report, ("ROW",))
        ok &= report.messages == shop_rows["orders" if topic.endswith(".orders") else "customers"]
    with contextlib.closing(demo_data.connect(infos["mariadb"])) as conn:
        for table, columns in REPLAY_COLUMNS.items():
            report = demo_data.read_topic(kafka, f"demo_{tag}.{table}", replay=True)
            show_topic(report, ("INSERT", "UPDATE", "DELETE"))
            replayed = (report.replayed or {}).get(table, {})
            same, rows = demo_data.table_matches(conn, f"demo_stock_{tag}", table, columns, replayed)
            say(
                f"      replayed: {rows:,} rows, {'equal to' if same else 'DIFFERENT FROM'} the table {table}"
            )
            ok &= same
    say(f"== {'done' if ok else 'FAILED'} in {time.monotonic() - begin:.0f} s; task logs in .demo/logs/")
    print_ui_help()
    return 0 if ok else 1


def print_ui_help() -> None:
    """How to look at the same runs in the Airflow UI."""
    say("== the Airflow UI on the same setup (the runs above are in its history)")
    say(f"  make ui      # airflow standalone at http://127.0.0.1:{UI_PORT}, no login (all-admins, loopback)")
    say('  or by hand:  eval "$(.venv/bin/python scripts/demo.py env)" && .venv/bin/airflow standalone')


def main(argv: list[str] | None = None) -> int:
    """`demo.py [run|ui|env]`."""
    parser = argparse.ArgumentParser(prog="scripts/demo.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("command", nargs="?", default="run", choices=("run", "ui", "env"))
    parser.add_argument("--orders", type=int, default=100_000, help="rows of the seekdb orders table")
    parser.add_argument("--window", type=float, default=20, help="at least this many seconds of live changes")
    args = parser.parse_args(argv)
    if args.command == "run":
        return run_demo(args)
    if args.command == "ui":
        infos = start_services()
    else:
        infos = {name: devservices.info(name) for name in SERVICES}
        if None in infos.values():
            print("# the services are not running: make services (or make demo)", file=sys.stderr)
            return 1
    env = airflow_env(infos)
    if args.command == "env":
        for key, value in env.items():
            print(f"export {key}={shlex.quote(value)}")
        return 0
    say(f"Airflow UI: http://127.0.0.1:{UI_PORT} (Ctrl-C stops it); projects from {PROJECTS}")
    airflow = Path(sys.executable).parent / "airflow"
    os.environ.update(env, PATH=f"{airflow.parent}{os.pathsep}{os.environ.get('PATH', '')}")
    os.execv(airflow, [str(airflow), "standalone"])
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main())
