"""
Names in a synchronization project: the rules for names, the accepted names of option values, generated names.

Each rule is a checker that returns the value or raises `ValueError` with the rule in plain words (pydantic
turns that into a field error), and an `Annotated` type that applies it. Option values (sync types, DML,
serialization methods, partitioning rules) are str enums read case-insensitively, OMS API names included.
Generated names: batch topics (`Topic_${Database Name}_${Table Name}`, as OMS), the checkpoint topic and the
replication `server_id`.
"""

from __future__ import annotations

import hashlib
import re
from enum import Enum, StrEnum
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

from pydantic import AfterValidator, BeforeValidator

from airflow_provider_obkafka.exceptions import ConfigError

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

_CHINESE = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
_PROJECT_NAME_RE = re.compile("[A-Za-z0-9_" + _CHINESE + "-]{1,64}")
_CONN_ID_RE = re.compile(r"[A-Za-z0-9_.-]{1,250}")
_OBJECT_NAME_RE = re.compile(r"[^`\x00/\\.]{1,64}")
_TOPIC_RE = re.compile(r"[A-Za-z0-9._-]{3,64}")
_KAFKA_TOPIC_RE = re.compile(r"[A-Za-z0-9._-]{1,249}")
_SLUG_RE = re.compile(r"[A-Za-z0-9_-]+")
_PATTERN_CHARS = frozenset("*?[")

PROJECT_NAME_RULE = "must be 1 to 64 characters of letters, digits, Chinese characters, '_' or '-'"
TAG_RULE = "a tag must be 1 to 32 characters"
CONN_ID_RULE = "a connection id must be 1 to 250 characters of ASCII letters, digits, '_', '.' and '-'"
OBJECT_NAME_RULE = (
    "a database or table name must be 1 to 64 characters, none of them a backtick, NUL, '/', '\\' or '.'"
)
COLUMN_NAME_RULE = "a column name must be 1 to 64 characters"
TOPIC_RULE = "a topic name must be 3 to 64 characters of ASCII letters, digits, '-', '_' and '.'"
KAFKA_TOPIC_RULE = (
    "must be a Kafka topic name: 1 to 249 characters of ASCII letters, digits, '-', '_' and '.', "
    "not '.' or '..'"
)
BUSINESS_ID_RULE = "a business system identification must be 1 to 20 characters, without control characters"
INTERNAL_PREFIX = "__obkafka"
KAFKA_INTERNAL_TOPICS = frozenset({"__consumer_offsets", "__transaction_state"})
SERVER_ID_MAX = 2**31 - 1

Loc = tuple[str | int, ...]


def format_path(loc: Loc) -> str:
    """The name of a place in a project file: `('objects', 1, 'topic', 'name')` -> `objects[1].topic.name`."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        elif part and not any(char in part for char in " .[]'\"\t\n"):
            text += f".{part}" if text else part
        else:
            text += f"[{part!r}]"
    return text or "(top level)"


def _checker(pattern: re.Pattern[str], rule: str) -> Callable[[str], str]:
    def check(value: str) -> str:
        if not pattern.fullmatch(value):
            raise ValueError(rule)
        return value

    return check


check_project_name = _checker(_PROJECT_NAME_RE, PROJECT_NAME_RULE)
check_conn_id = _checker(_CONN_ID_RE, CONN_ID_RULE)
check_object_name = _checker(_OBJECT_NAME_RE, OBJECT_NAME_RULE)


def check_tag(value: str) -> str:
    """A tag is 1 to 32 characters of any kind."""
    if not 1 <= len(value) <= 32:
        raise ValueError(TAG_RULE)
    return value


def check_column_name(value: str) -> str:
    """A column name is 1 to 64 characters (MySQL's limit)."""
    if not 1 <= len(value) <= 64:
        raise ValueError(COLUMN_NAME_RULE)
    return value


def check_business_id(value: str) -> str:
    """OMS: the business system identification is 1 to 20 characters; control characters are refused too."""
    if not 1 <= len(value) <= 20 or any(ord(char) < 32 or ord(char) == 127 for char in value):
        raise ValueError(BUSINESS_ID_RULE)
    return value


def reserved_topic_reason(name: str) -> str | None:
    """Why a mapped topic name is reserved, or None when it is free to use."""
    if name in KAFKA_INTERNAL_TOPICS:
        return f"{name!r} is one of Kafka's internal topics; choose another name"
    if name.startswith(INTERNAL_PREFIX):
        return f"names starting with {INTERNAL_PREFIX!r} are reserved for the project's internal topics"
    return None


def is_topic_name(name: str) -> bool:
    """True when `name` follows the OMS/Kafka rule for a mapped topic (3 to 64 ASCII characters)."""
    return bool(_TOPIC_RE.fullmatch(name))


def check_topic_name(value: str) -> str:
    """A mapped topic (new or existing) follows the OMS rule and is not a reserved name."""
    if not is_topic_name(value):
        raise ValueError(TOPIC_RULE)
    reason = reserved_topic_reason(value)
    if reason:
        raise ValueError(reason)
    return value


def check_kafka_topic_name(value: str) -> str:
    """An internal topic follows Kafka's own rule (1 to 249 characters) and is not one of Kafka's topics."""
    if not _KAFKA_TOPIC_RE.fullmatch(value) or value in (".", ".."):
        raise ValueError(KAFKA_TOPIC_RULE)
    if value in KAFKA_INTERNAL_TOPICS:
        raise ValueError(f"{value!r} is one of Kafka's internal topics; choose another name")
    return value


def is_pattern(name: str) -> bool:
    """True when a table entry is a glob pattern (`*`, `?` or `[...]`) rather than a table name."""
    return not _PATTERN_CHARS.isdisjoint(name)


def batch_topic_name(database: str, table: str) -> str:
    """
    The topic OMS's Batch Generate Topics gives a table: `Topic_${Database Name}_${Table Name}`.

    :raises ConfigError: the result is not a valid topic name (non-ASCII or other characters, or too long)
    """
    name = f"Topic_{database}_{table}"
    if is_topic_name(name):
        return name
    raise ConfigError(
        f"batch topic for table {database}.{table}: the generated name {name!r} is not a valid Kafka topic "
        f"name ({TOPIC_RULE}); map this table to an explicit topic with an ASCII name instead, in its own "
        "objects entry with `topic: {mode: new, name: ...}` or `topic: {mode: existing, name: ...}`"
    )


def project_slug(name: str) -> str:
    """
    An ASCII form of a project name, safe in Kafka topic names and DAG ids; deterministic.

    ASCII names are kept as they are; names with Chinese characters become `xn--` plus their punycode, and a
    slug longer than 200 characters is cut and ends with a hash of the name.
    """
    slug = name if _SLUG_RE.fullmatch(name) else "xn--" + name.encode("punycode").decode("ascii")
    if len(slug) > 200:
        digest = hashlib.sha256(name.encode("utf-8")).hexdigest()[:12]
        slug = f"{slug[:187]}-{digest}"
    return slug


def default_checkpoint_topic(project_name: str) -> str:
    """The compacted checkpoint topic of a project: `__obkafka_checkpoints.<slug>`."""
    return f"{INTERNAL_PREFIX}_checkpoints.{project_slug(project_name)}"


def default_server_id(project_name: str) -> int:
    """A replication `server_id` in 1..2^31-1 derived from the project name (a hash, never random)."""
    digest = hashlib.sha256(project_name.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % SERVER_ID_MAX + 1


ProjectName = Annotated[str, AfterValidator(check_project_name)]
Tag = Annotated[str, AfterValidator(check_tag)]
ConnId = Annotated[str, AfterValidator(check_conn_id)]
ObjectName = Annotated[str, AfterValidator(check_object_name)]
ColumnName = Annotated[str, AfterValidator(check_column_name)]
TopicName = Annotated[str, AfterValidator(check_topic_name)]
KafkaTopicName = Annotated[str, AfterValidator(check_kafka_topic_name)]
BusinessId = Annotated[str, AfterValidator(check_business_id)]


class SyncType(StrEnum):
    """OMS Synchronization Type, in the order the phases run."""

    SCHEMA = "schema"
    FULL = "full"
    INCREMENTAL = "incremental"
    VERIFY = "verify"


class Dml(StrEnum):
    """The DML that incremental synchronization carries (OMS: "DML for Data Change")."""

    INSERT = "INSERT"
    UPDATE = "UPDATE"
    DELETE = "DELETE"


class Serialization(StrEnum):
    """OMS Serialization Method; the values are the UI names, `api_name` the OMS API name."""

    DEFAULT = "Default"
    CANAL = "Canal"
    DATAWORKS = "DataWorks"
    SHAREPLEX = "SharePlex"
    DEFAULT_EXTEND_COLUMN_TYPE = "DefaultExtendColumnType"
    DEBEZIUM = "Debezium"

    @property
    def api_name(self) -> str:
        """The OMS API name (`mqSerializerType`), e.g. `DATAWORKS_V2`."""
        return _SERIALIZATION_API_NAMES[self]


class Partitioning(StrEnum):
    """OMS Partitioning Rules: Hash spreads rows by key hash, One sends everything to partition 0."""

    HASH = "Hash"
    ONE = "One"


class KeyChange(StrEnum):
    """How incremental sync writes an UPDATE that changes a row's Kafka key (its shard columns or row key)."""

    UPDATE = "update"  # one UPDATE under the new key, as OMS writes it
    DELETE_THEN_INSERT = "delete_then_insert"  # a DELETE under the old key, then an INSERT under the new one


_SERIALIZATION_API_NAMES = {
    Serialization.DEFAULT: "DEFAULT",
    Serialization.CANAL: "CANAL",
    Serialization.DATAWORKS: "DATAWORKS_V2",
    Serialization.SHAREPLEX: "SHAREPLEX",
    Serialization.DEFAULT_EXTEND_COLUMN_TYPE: "DEFAULT_WITH_SCHEMA",
    Serialization.DEBEZIUM: "DEBEZIUM",
}
_E = TypeVar("_E", bound=Enum)


def enum_parser(enum: type[_E], rule: str, aliases: Mapping[str, _E] | None = None) -> Callable[[Any], _E]:
    """A before-validator reading an enum member from its value or an alias, case-insensitively."""
    lookup = {str(member.value).casefold(): member for member in enum}
    lookup.update({key.casefold(): member for key, member in (aliases or {}).items()})

    def parse(value: Any) -> _E:
        if isinstance(value, enum):
            return value
        if isinstance(value, str) and value.strip().casefold() in lookup:
            return lookup[value.strip().casefold()]
        raise ValueError(rule)

    return parse


SYNC_TYPE_RULE = "must be one of schema, full, incremental, verify"
DML_RULE = (
    "must be one of INSERT, UPDATE, DELETE (DDL is `incremental.ddl: true`, OMS DDL Synchronization)"
)
SERIALIZATION_RULE = (
    "must be one of Default, Canal, DataWorks, SharePlex, DefaultExtendColumnType, Debezium "
    "(any case; the OMS API names DEFAULT, CANAL, DATAWORKS_V2, SHAREPLEX, DEFAULT_WITH_SCHEMA, DEBEZIUM "
    "work too)"
)
PARTITIONING_RULE = "must be one of Hash, One"
KEY_CHANGE_RULE = (
    "must be one of update (one UPDATE under the new key, as OMS writes it) or delete_then_insert (a DELETE "
    "under the old key, then an INSERT under the new one)"
)
_API_ALIASES = {api: member for member, api in _SERIALIZATION_API_NAMES.items()}

SyncTypeName = Annotated[SyncType, BeforeValidator(enum_parser(SyncType, SYNC_TYPE_RULE))]
DmlName = Annotated[Dml, BeforeValidator(enum_parser(Dml, DML_RULE))]
SerializationName = Annotated[
    Serialization, BeforeValidator(enum_parser(Serialization, SERIALIZATION_RULE, _API_ALIASES))
]
PartitioningName = Annotated[Partitioning, BeforeValidator(enum_parser(Partitioning, PARTITIONING_RULE))]
KeyChangeName = Annotated[KeyChange, BeforeValidator(enum_parser(KeyChange, KEY_CHANGE_RULE))]


def broker_address(bootstrap_servers: str) -> str:
    """
    The broker a topic's Asset URI names: the first of `bootstrap.servers`, without a listener prefix
    (`SASL_SSL://b1:9093,b2:9093` gives `b1:9093`).

    :raises ValueError: no broker in `bootstrap_servers`
    """
    first = next((part.strip() for part in str(bootstrap_servers).split(",") if part.strip()), "")
    first = first.split("://", 1)[-1].rstrip("/")
    if not first:
        raise ValueError(f"bootstrap.servers {bootstrap_servers!r} names no broker: set it on the Kafka connection")
    return first
