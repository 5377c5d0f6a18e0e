"""The provider's one exception tree; Airflow classes translate these to Airflow exceptions."""

from __future__ import annotations


class ObKafkaError(Exception):
    """Base of every error this provider raises on purpose."""


class ConfigError(ObKafkaError):
    """A connection extra, a project file or an argument is invalid; nothing was written."""


class CapabilityError(ObKafkaError):
    """The server lacks something sync needs (a binlog endpoint, `current_scn()`, a Kafka API)."""


class SchemaError(ObKafkaError):
    """A table, view or column is missing or unusable for synchronization."""


class TopicError(ObKafkaError):
    """A topic is missing, or exists with settings incompatible with the project."""


class PrecheckFailed(ObKafkaError):
    """A precheck found a problem that a retry cannot fix."""


class CheckpointError(ObKafkaError):
    """A checkpoint could not be read, written or trusted."""


class DeliveryError(ObKafkaError):
    """Kafka did not acknowledge a message or a transaction."""


class MessageTooLargeError(ObKafkaError):
    """
    A row's message is larger than Kafka accepts and its table's `oversize_rows` is `fail`: a retry cannot fix
    it (the transaction holding it was aborted).
    """


class IncompleteReadError(ObKafkaError):
    """
    A topic was not read to its end offsets (a broker stalled or went away mid-read); what was read is not
    used. Transient: the read is repeated from the beginning (`engine.pipeline.retry.transient`).
    """


class UnsupportedEventError(ObKafkaError):
    """The change log holds an event the reader cannot turn into changes faithfully (e.g. a JSON partial update)."""
