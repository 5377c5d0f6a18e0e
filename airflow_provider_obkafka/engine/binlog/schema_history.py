"""
The schema history of incremental synchronization: each in-scope table's definition from each DDL position on,
so every row is decoded and rendered with the definition in force where it was written, not the table's
definition when the worker happens to read it.

A version is `(position, definition)`: the definition in force from `position` (the position after the DDL) on;
a definition of None says the table no longer exists under this name from there (dropped, renamed away). The
first version of a table, taken when the worker first needs it, has no position (a *seed*: in force before
every DDL recorded after it). A DDL's new definition is the table's definition when the worker reads the DDL
(a RENAME TABLE keeps the old one under the new name, a TRUNCATE changes nothing): exact unless another DDL on
the table committed in between, which is why binlog column names (`binlog_row_metadata=FULL`), where they
exist, win over it (`engine/routing/router.py`).

Versions are kept with the checkpoints (`schema/<database>.<table>` in the checkpoint topic, written in the
same Kafka transaction as the rows), so a resume knows the definition at its start position. Two cursors read
it: the reader's (moves as the change log is read, read-ahead included: the row decoder of a log without column
names) and the router's (moves as the changes are produced: rendering). docs/ddl.md tells the limits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from airflow_provider_obkafka.engine.binlog.transactions import Commit, Resume, SchemaChange
from airflow_provider_obkafka.engine.changes.change import RowChange
from airflow_provider_obkafka.exceptions import SchemaError
from airflow_provider_obkafka.models.position import BinlogPosition
from airflow_provider_obkafka.models.schema import TableSchema

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping

    from airflow_provider_obkafka.engine.binlog.transactions import StreamItem

__all__ = ["KEEP_VERSIONS", "HistoryCursor", "SchemaHistory", "Version", "gone_tables", "unprocessable"]

UNPROCESSABLE = "cannot be processed; the checkpoint stays before it"
KEEP_VERSIONS = 50  # versions kept per table in the checkpoint record (the oldest are dropped first)
Ref = tuple[str, str]


@dataclass(frozen=True, slots=True)
class Version:
    """A table's definition from `position` on (None: a seed, before every later version); None: gone."""

    position: BinlogPosition | None
    schema: TableSchema | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "position": None if self.position is None else self.position.model_dump(mode="json"),
            "schema": None if self.schema is None else self.schema.model_dump(mode="json"),
        }

    @classmethod
    def from_dict(cls, value: Mapping[str, Any]) -> Version:
        position, schema = value.get("position"), value.get("schema")
        return cls(None if position is None else BinlogPosition.model_validate(position),
                   None if schema is None else TableSchema.model_validate(schema))  # fmt: skip


def _key(position: BinlogPosition | None) -> tuple[str, int]:
    return ("", -1) if position is None else position.sort_key()


@dataclass
class SchemaHistory:
    """
    Every in-scope table's versions, loaded lazily from the checkpoints (the Kafka side may still be reading
    them while the change log is read ahead).

    :param describe: a table's current definition, by database and table (SchemaError when it does not exist)
    :param load: the committed history records, `{(database, table): record}`, fetched on first use
    """

    describe: Callable[[str, str], TableSchema]
    load: Callable[[], Mapping[Ref, Mapping[str, Any]]] = dict
    versions: dict[Ref, list[Version]] | None = None
    dirty: set[Ref] = field(default_factory=set)

    def _all(self) -> dict[Ref, list[Version]]:
        if self.versions is None:
            self.versions = {ref: [Version.from_dict(v) for v in record.get("versions", ())]
                             for ref, record in self.load().items()}  # fmt: skip
        return self.versions

    def _add(self, ref: Ref, version: Version) -> None:
        """Insert in position order; a position already recorded keeps its first definition (the closest)."""
        versions = self._all().setdefault(ref, [])
        if any(_key(v.position) == _key(version.position) for v in versions):
            return
        versions.append(version)
        versions.sort(key=lambda v: _key(v.position))
        del versions[:-KEEP_VERSIONS]
        self.dirty.add(ref)

    def at(self, database: str, table: str, position: BinlogPosition) -> TableSchema:
        """
        The definition in force at `position`: the last version at or before it, else the first one, else the
        current definition (then kept as the table's seed).

        :raises SchemaError: the table did not exist under this name there
        """
        ref = (database, table)
        versions = self._all().get(ref)
        if not versions:
            self._add(ref, Version(None, self.describe(database, table)))
            versions = self._all()[ref]
        wanted = position.sort_key()
        found = next((v for v in reversed(versions) if v.position is None or v.position.sort_key() <= wanted),
                     versions[0])  # fmt: skip
        if found.schema is None:
            where = f"{found.position.file}:{found.position.position}" if found.position else "?"
            raise SchemaError(f"table {database}.{table}: no definition at {position.file}:{position.position}: "
                              f"the table was dropped or renamed at {where}")  # fmt: skip
        return found.schema

    def record(self, change: SchemaChange) -> None:
        """A DDL read from the change log: the definition in force after it, for each table it touches."""
        ref, at = (change.database, change.table), change.position
        if change.kind == "TRUNCATE":
            return
        if change.kind == "DROP":
            self._add(ref, Version(at, None))
            return
        if change.kind == "RENAME" and change.renamed_to is not None:
            old = self._before(ref, at)
            self._add(ref, Version(at, None))
            if not change.out_of_scope:
                new = tuple(change.renamed_to)
                renamed = old.model_copy(update={"database": new[0], "table": new[1]}) if old else None
                self._add(new, Version(at, renamed or self._describe(*new)))  # type: ignore[arg-type]
            return
        self._add(ref, Version(at, self._describe(*ref)))

    def _before(self, ref: Ref, position: BinlogPosition) -> TableSchema | None:
        try:
            return self.at(*ref, position)
        except SchemaError:
            return None

    def _describe(self, database: str, table: str) -> TableSchema | None:
        """The current definition, or None when the table is gone already (dropped or renamed since)."""
        try:
            return self.describe(database, table)
        except SchemaError:
            return None

    def records(self) -> dict[Ref, dict[str, Any]]:
        """The history records changed since the last call, to commit with the next checkpoint."""
        changed = {ref: {"database": ref[0], "table": ref[1], "versions": [v.to_dict() for v in self._all()[ref]]}
                   for ref in sorted(self.dirty)}  # fmt: skip
        self.dirty.clear()
        return changed

    def cursor(self, start: BinlogPosition) -> HistoryCursor:
        """A reader of the history from `start` on."""
        return HistoryCursor(self, start)


def gone_tables(records: Mapping[Ref, Mapping[str, Any]]) -> dict[str, str]:
    """
    The tables whose last recorded version says they are gone (dropped, or renamed away), as `database.table`,
    with the position of the DDL as `file:offset`.
    """
    gone = {}
    for (database, table), record in records.items():
        versions = record.get("versions") or ()
        last = versions[-1] if versions else None
        if last is not None and last.get("schema") is None and last.get("position"):
            gone[f"{database}.{table}"] = f"{last['position']['file']}:{last['position']['position']}"
    return gone


@dataclass
class HistoryCursor:
    """The history as seen from one point of the stream; `describe` gives the definition in force there."""

    history: SchemaHistory
    position: BinlogPosition

    def describe(self, database: str, table: str) -> TableSchema:
        return self.history.at(database, table, self.position)

    def follow(self, items: Iterator[StreamItem]) -> Iterator[StreamItem]:
        """
        `items` passed through as they are read, recording each DDL and moving to each resume point before
        the reader goes on (so the TABLE_MAPs after a DDL are decoded with the definition it left).
        """
        try:
            for item in items:
                if item.__class__ is RowChange:  # most items: passed on as they are
                    yield item
                    continue
                if isinstance(item, SchemaChange):
                    self.history.record(item)
                    self.position = item.position
                elif isinstance(item, Commit):
                    self.position = item.end
                elif isinstance(item, Resume):
                    self.position = item.position
                yield item
        except SchemaError as exc:  # a change the reader cannot decode: where, why, and the way out
            raise SchemaError(unprocessable(exc, self.position)) from exc


def unprocessable(exc: Exception, position: BinlogPosition) -> str:
    """The error of a change that cannot be processed: the cause, its transaction's position, the recovery."""
    if UNPROCESSABLE in str(exc):  # said already
        return str(exc)
    where = f"{position.file}:{position.position}"
    return (f"{exc} [the transaction at {where} {UNPROCESSABLE}]. Recovery "
            f"(docs/ddl.md): correct the cause and run the task again, or skip the transaction: trigger the DAG "
            f"with the param incremental_skip_to set to the position after it (SHOW BINLOG EVENTS IN "
            f"'{position.file}' FROM {position.position} shows where it ends); the skip is recorded in the "
            "checkpoint topic")  # fmt: skip
