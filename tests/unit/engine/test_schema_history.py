"""The schema history: the definition in force at a position, DDL by DDL, and its checkpoint records."""

from __future__ import annotations

import pytest

from airflow_provider_obkafka.engine.binlog.schema_history import KEEP_VERSIONS, SchemaHistory
from airflow_provider_obkafka.engine.binlog.transactions import Commit, SchemaChange
from airflow_provider_obkafka.engine.routing.router import fit_to_images
from airflow_provider_obkafka.exceptions import SchemaError
from airflow_provider_obkafka.models.position import BinlogPosition
from airflow_provider_obkafka.models.schema import Column, TableRef, TableSchema


def _schema(table: str, *names: str) -> TableSchema:
    columns = tuple(Column(name=n, position=i, data_type="int", column_type="int") for i, n in enumerate(names, 1))
    return TableSchema(database="d", table=table, columns=columns, primary_key=(names[0],))


def _at(pos: int) -> BinlogPosition:
    return BinlogPosition(file="binlog.000001", position=pos)


class Source:
    """A table whose current definition the test sets; counts the DESCRIBEs."""

    def __init__(self) -> None:
        self.tables = {"t": _schema("t", "id", "a")}
        self.calls = 0

    def describe(self, database: str, table: str) -> TableSchema:
        self.calls += 1
        if table not in self.tables:
            raise SchemaError(f"table {database}.{table} does not exist")
        return self.tables[table]


def _ddl(kind: str, pos: int, renamed_to: TableRef | None = None, out: bool = False) -> SchemaChange:
    return SchemaChange("d", "t", kind, f"{kind} ...", _at(pos), renamed_to, out)


def test_each_position_gets_the_definition_in_force_there():
    source = Source()
    history = SchemaHistory(source.describe)
    assert history.at("d", "t", _at(100)).column_names == ("id", "a")  # the seed: current definition
    source.tables["t"] = _schema("t", "id", "a", "b")
    history.record(_ddl("ALTER", 200))
    source.tables["t"] = _schema("t", "id", "c")
    history.record(_ddl("ALTER", 300))
    assert history.at("d", "t", _at(150)).column_names == ("id", "a")
    assert history.at("d", "t", _at(200)).column_names == ("id", "a", "b")
    assert history.at("d", "t", _at(299)).column_names == ("id", "a", "b")
    assert history.at("d", "t", _at(400)).column_names == ("id", "c")


def test_records_round_trip_through_a_checkpoint_and_a_position_keeps_its_first_definition():
    source = Source()
    history = SchemaHistory(source.describe)
    history.at("d", "t", _at(4))
    source.tables["t"] = _schema("t", "id", "a", "b")
    history.record(_ddl("ALTER", 200))
    records = history.records()
    assert list(records) == [("d", "t")] and history.records() == {}, "only what changed since the last call"
    source.tables["t"] = _schema("t", "id")
    resumed = SchemaHistory(source.describe, lambda: records)
    resumed.record(_ddl("ALTER", 200))  # read again after a resume: the first definition stays
    assert resumed.at("d", "t", _at(100)).column_names == ("id", "a")
    assert resumed.at("d", "t", _at(250)).column_names == ("id", "a", "b")
    assert resumed.records() == {}


def test_drop_rename_and_truncate():
    source = Source()
    history = SchemaHistory(source.describe)
    history.at("d", "t", _at(4))
    history.record(_ddl("TRUNCATE", 50))
    assert history.records()[("d", "t")]["versions"][-1]["position"] is None, "TRUNCATE changes nothing"
    del source.tables["t"]
    history.record(_ddl("RENAME", 100, TableRef("d", "u")))
    assert history.at("d", "u", _at(120)).column_names == ("id", "a"), "a rename keeps the definition"
    assert history.at("d", "u", _at(120)).table == "u"
    with pytest.raises(SchemaError, match=r"d\.t: no definition at binlog.000001:120.*renamed at binlog.000001:100"):
        history.at("d", "t", _at(120))
    assert history.at("d", "t", _at(99)).column_names == ("id", "a")
    history.record(SchemaChange("d", "u", "DROP", "DROP TABLE u", _at(200)))
    with pytest.raises(SchemaError, match="dropped or renamed"):
        history.at("d", "u", _at(300))


def test_cursor_follows_the_stream():
    source = Source()
    history = SchemaHistory(source.describe)
    cursor = history.cursor(_at(4))
    assert cursor.describe("d", "t").column_names == ("id", "a")
    source.tables["t"] = _schema("t", "id", "a", "b")
    commit = Commit("x", 1, 0, _at(4), _at(300), 1)
    items = list(cursor.follow(iter([_ddl("ALTER", 200), commit])))
    assert len(items) == 2 and cursor.position == _at(300)
    assert cursor.describe("d", "t").column_names == ("id", "a", "b")


def test_versions_are_bounded():
    source = Source()
    history = SchemaHistory(source.describe)
    for n in range(KEEP_VERSIONS + 10):
        history.record(_ddl("ALTER", 100 + n))
    assert len(history.records()[("d", "t")]["versions"]) == KEEP_VERSIONS


def test_fit_to_images_narrows_to_the_named_columns():
    schema = _schema("t", "id", "a", "note2")
    assert fit_to_images(schema, ("id", "a")).column_names == ("id", "a")
    assert fit_to_images(schema, ("id", "a")).primary_key == ("id",)
    assert fit_to_images(schema, ("id", "x")) is schema, "a column the definition lacks: left as it is"
    assert fit_to_images(schema, ()) is schema
