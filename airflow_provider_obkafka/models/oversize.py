"""
What synchronization does with a row whose Kafka message is larger than Kafka accepts (`oversize_rows`):
fail the task, skip the row, or send a small record naming it to the project's dead-letter topic.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import BeforeValidator

from airflow_provider_obkafka.models.naming import INTERNAL_PREFIX, enum_parser, project_slug

__all__ = ["OVERSIZE_ROWS_RULE", "OversizeRows", "OversizeRowsName", "default_dead_letter_topic"]


class OversizeRows(StrEnum):
    """The policy for a message over the smallest of the producer's and the topic's size limits."""

    FAIL = "fail"  # the task fails for good, naming the row, its size, the limit and the fix; nothing committed
    SKIP = "skip"  # the row is not sent; a WARNING names it, and the task reports how many were skipped
    DEAD_LETTER = "dead_letter"  # a record naming the row goes to the dead-letter topic, in the same transaction


OVERSIZE_ROWS_RULE = (
    "must be one of fail (the task fails, naming the row and the fix), skip (the row is left out and logged) "
    "or dead_letter (a record naming the row goes to the project's dead-letter topic)"
)
OversizeRowsName = Annotated[OversizeRows, BeforeValidator(enum_parser(OversizeRows, OVERSIZE_ROWS_RULE))]


def default_dead_letter_topic(project_name: str) -> str:
    """The dead-letter topic of a project: `__obkafka_dead_letter.<slug>`."""
    return f"{INTERNAL_PREFIX}_dead_letter.{project_slug(project_name)}"
