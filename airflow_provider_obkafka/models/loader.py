"""
Load a synchronization project from YAML and report every violation of a file together.

Pydantic's field errors become `ProjectIssue`s in plain words (path, bad value, rule); the rules across fields
run on whatever parts of the project validated; YAML syntax errors and repeated keys carry their line.

The issue types and the wording of pydantic's errors are in `project_issues`; this module reads the file,
runs the validation and places each issue on its line.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pendulum
import yaml
from pydantic import TypeAdapter, ValidationError

from airflow_provider_obkafka.exceptions import ConfigError
from airflow_provider_obkafka.models.field_types import SyncTypes
from airflow_provider_obkafka.models.naming import KafkaTopicName, Loc
from airflow_provider_obkafka.models.project import SyncProject
from airflow_provider_obkafka.models.project_issues import (
    MISSING,
    ProjectIssue,
    ProjectValidationError,
    _field_issue,
    _order,
)
from airflow_provider_obkafka.models.project_rules import ProjectParts, cross_field_findings
from airflow_provider_obkafka.models.sections import IncrementalSpec, ObjectMapping

if TYPE_CHECKING:
    from datetime import datetime

__all__ = ["load_project", "parse_project"]

_SYNC_TYPES: TypeAdapter[Any] = TypeAdapter(SyncTypes)
_CHECKPOINT_TOPIC: TypeAdapter[Any] = TypeAdapter(KafkaTopicName)


def load_project(path: str | Path, *, now: datetime | None = None) -> SyncProject:
    """
    Read and validate a project file.

    :param path: the YAML file
    :param now: the time "now" for the start timestamp check; default: the current time
    :raises ProjectValidationError: the file breaks rules; every violation is listed
    :raises ConfigError: the file cannot be read
    """
    source = str(path)
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read project file {source}: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        issue = ProjectIssue(
            "(file)", raw[exc.start : exc.start + 8], f"is not UTF-8 text (byte {exc.start})"
        )
        raise ProjectValidationError([issue], source) from None
    data, node, duplicates = _read_yaml(text, source)
    return _validate(data, source, now, node, duplicates)


def parse_project(
    data: Mapping[str, Any], source: str = "<string>", *, now: datetime | None = None
) -> SyncProject:
    """
    Validate a project given as a mapping (parsed YAML or a dict).

    :param data: the project's options
    :param source: the name used in error messages
    :param now: the time "now" for the start timestamp check; default: the current time
    :raises ProjectValidationError: the project breaks rules; every violation is listed
    """
    return _validate(data, source, now, None, [])


def _validate(
    data: Any, source: str, now: datetime | None, node: yaml.Node | None, issues: list[ProjectIssue]
) -> SyncProject:
    if data is None:
        message = "the project is empty: it needs at least `name`, `sync_types` and `objects`"
        raise ProjectValidationError([ProjectIssue("(file)", "", message)], source)
    if not isinstance(data, Mapping):
        message = (
            "the top level must be a mapping of options (name: ..., sync_types: ..., objects: ...), not a "
        )
        raise ProjectValidationError(
            [ProjectIssue("(top level)", data, message + type(data).__name__)], source
        )
    context = {"now": now or pendulum.now("UTC"), "cross_checks": False}
    project: SyncProject | None = None
    try:
        project = SyncProject.model_validate(data, context=context)
        parts = project.parts()
    except ValidationError as exc:
        issues = issues + [_field_issue(error) for error in exc.errors()]
        parts = _partial_parts(data, context)
    issues += [ProjectIssue.at(loc, value, rule) for loc, value, rule in cross_field_findings(parts)]
    if issues or project is None:
        issues = sorted(issues, key=_order)
        if node is not None:
            issues = [
                issue if issue.line else replace(issue, line=_line_of(node, issue.loc)) for issue in issues
            ]
        raise ProjectValidationError(issues, source)
    return project


def _partial_parts(data: Mapping[str, Any], context: dict[str, Any]) -> ProjectParts:
    """The parts of an invalid project that validate on their own, for the rules across fields."""
    raw_objects = data.get("objects")
    entries = list(enumerate(raw_objects)) if isinstance(raw_objects, list) else []
    validated = ((index, _valid(ObjectMapping.model_validate, raw)) for index, raw in entries)
    block = data.get("incremental")
    return ProjectParts(
        sync_types=_valid(_SYNC_TYPES.validate_python, data.get("sync_types")),
        incremental=_valid(lambda raw: IncrementalSpec.model_validate(raw, context=context), block or {}),
        incremental_given=block if isinstance(block, Mapping) and block else None,
        objects=tuple((index, entry) for index, entry in validated if entry is not None),
        checkpoint_topic=_valid(_CHECKPOINT_TOPIC.validate_python, data.get("checkpoint_topic")),
    )


def _valid(validate: Callable[[Any], Any], raw: Any) -> Any:
    try:
        return validate(raw)
    except ValidationError:
        return None


def _read_yaml(text: str, source: str) -> tuple[Any, yaml.Node | None, list[ProjectIssue]]:
    """The parsed document, its node tree (for lines) and any repeated keys; syntax errors raise."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        raise ProjectValidationError([_syntax_issue(exc, text)], source) from None
    except yaml.YAMLError as exc:
        raise ProjectValidationError(
            [ProjectIssue("(file)", MISSING, f"is not valid YAML: {exc}")], source
        ) from None
    finally:
        loader.dispose()
    return data, node, _repeated_keys(node, (), set()) if node is not None else []


def _syntax_issue(exc: yaml.MarkedYAMLError, text: str) -> ProjectIssue:
    mark = exc.problem_mark or exc.context_mark
    problem = " ".join(part for part in (exc.context, exc.problem) if part) or str(exc)
    if mark is None:
        return ProjectIssue("(file)", MISSING, f"is not valid YAML: {problem}")
    lines = text.splitlines()
    value = lines[mark.line].strip() if mark.line < len(lines) else ""
    return ProjectIssue(
        f"line {mark.line + 1}, column {mark.column + 1}", value, f"is not valid YAML: {problem}"
    )


def _repeated_keys(node: yaml.Node, loc: Loc, seen_nodes: set[int]) -> list[ProjectIssue]:
    """Keys given twice in one mapping: YAML keeps only the last, so a typo'd copy would be lost silently."""
    if id(node) in seen_nodes:
        return []
    seen_nodes.add(id(node))
    found: list[ProjectIssue] = []
    if isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            found += _repeated_keys(item, (*loc, index), seen_nodes)
    elif isinstance(node, yaml.MappingNode):
        keys: set[str] = set()
        for key, value in node.value:
            name = key.value if isinstance(key, yaml.ScalarNode) else repr(key)
            if name in keys:
                text = value.value if isinstance(value, yaml.ScalarNode) else MISSING
                message = (
                    "this key is given twice in one mapping; YAML would keep only the last one: remove one"
                )
                found.append(
                    replace(ProjectIssue.at((*loc, name), text, message), line=key.start_mark.line + 1)
                )
            keys.add(name)
            found += _repeated_keys(value, (*loc, name), seen_nodes)
    return found


def _line_of(node: yaml.Node, loc: Loc) -> int | None:
    """The line of the deepest part of `loc` found in the YAML node tree."""
    line = None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            pairs = [(key, value) for key, value in node.value if getattr(key, "value", None) == str(part)]
            if not pairs:
                break
            line, node = pairs[-1][0].start_mark.line + 1, pairs[-1][1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
    return line
