"""
Load a synchronization project from YAML and report every violation of a file together.

Pydantic's field errors become `ProjectIssue`s in plain words (path, bad value, rule); the rules across fields
run on whatever parts of the project validated; YAML syntax errors and repeated keys carry their line.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from types import UnionType
from typing import TYPE_CHECKING, Annotated, Any, Union, get_args, get_origin

import pendulum
import yaml
from pydantic import BaseModel, TypeAdapter, ValidationError

from airflow_provider_obkafka.exceptions import ConfigError
from airflow_provider_obkafka.models.naming import KafkaTopicName, Loc, format_path
from airflow_provider_obkafka.models.project import (
    IncrementalSpec,
    ObjectMapping,
    ProjectParts,
    SyncProject,
    SyncTypes,
    cross_field_findings,
)

if TYPE_CHECKING:
    from datetime import datetime

__all__ = ["MISSING", "ProjectIssue", "ProjectValidationError", "load_project", "parse_project"]


class _Missing:
    def __repr__(self) -> str:
        return "(missing)"


MISSING: Any = _Missing()
_TOPIC_TAGS = ("new", "existing", "batch")
_TYPE_MESSAGES = {
    "string_type": "must be text",
    "int_type": "must be a whole number",
    "bool_type": "must be true or false",
    "list_type": "must be a list",
    "tuple_type": "must be a list",
    "dict_type": "must be a mapping (key: value)",
    "model_type": "must be a mapping of options (key: value)",
    "model_attributes_type": "must be a mapping of options (key: value)",
    "missing": "a required option is missing",
    "too_short": "must list at least {min_length} item(s)",
    "too_long": "must list at most {max_length} item(s)",
    "string_too_short": "must not be empty",
    "union_tag_invalid": "must be one of new, existing, batch",
    "union_tag_not_found": "a topic needs a mode: new, existing or batch",
}
_SYNC_TYPES: TypeAdapter[Any] = TypeAdapter(SyncTypes)
_CHECKPOINT_TOPIC: TypeAdapter[Any] = TypeAdapter(KafkaTopicName)


@dataclass(frozen=True)
class ProjectIssue:
    """
    One violation in a project file.

    :param path: where, as `objects[1].topic.name`, or `line 3, column 7` for YAML syntax
    :param value: the bad value as given (`MISSING` for a missing option)
    :param message: the rule that is broken, and the fix where there is one
    :param loc: the path as a tuple of keys and indexes
    :param line: the line in the file, when known
    """

    path: str
    value: Any
    message: str
    loc: Loc = ()
    line: int | None = None

    @classmethod
    def at(cls, loc: Loc, value: Any, message: str) -> ProjectIssue:
        """An issue at a path given as a tuple."""
        return cls(format_path(loc), value, message, tuple(loc))

    def __str__(self) -> str:
        text = repr(self.value)
        text = text if len(text) <= 80 else text[:77] + "..."
        where = f" (line {self.line})" if self.line else ""
        return f"{self.path}: {text} — {self.message}{where}"


class ProjectValidationError(ConfigError):
    """
    A project file breaks one or more rules; `errors` lists every violation found.

    :param errors: the violations, in the order of the project's fields
    :param source: the file (or `<string>`) the project came from
    """

    def __init__(self, errors: Sequence[ProjectIssue], source: str = "<string>") -> None:
        self.errors = list(errors)
        self.source = source
        super().__init__(self.__str__())

    def __str__(self) -> str:
        count = len(self.errors)
        lines = [f"project file {self.source} has {count} error{'' if count == 1 else 's'}:"]
        lines += [f"  - {issue}" for issue in self.errors]
        return "\n".join(lines)


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


def _field_issue(error: Any) -> ProjectIssue:
    """One pydantic error as a ProjectIssue: the path without union tags, the value as given, the rule."""
    raw_loc = tuple(error["loc"])
    loc = tuple(part for part in raw_loc if part != "[key]")
    if len(loc) > 3 and loc[0] == "objects" and loc[2] == "topic" and loc[3] in _TOPIC_TAGS:
        loc = loc[:3] + loc[4:]
    value = MISSING if error["type"] in ("missing", "union_tag_not_found") else error.get("input")
    if error["type"].startswith("union_tag_"):
        loc, value = (*loc, "mode"), (error.get("ctx") or {}).get("tag", value)
    return ProjectIssue.at(loc, value, _message(error, raw_loc))


def _message(error: Any, raw_loc: Loc) -> str:
    kind, context = error["type"], error.get("ctx") or {}
    if kind == "value_error":
        return str(context["error"])
    if kind == "extra_forbidden":
        return _unknown_key(raw_loc)
    if kind not in _TYPE_MESSAGES:
        return str(error["msg"])
    message = _TYPE_MESSAGES[kind].format(**context)
    value = error.get("input")
    if kind == "string_type" and isinstance(value, bool | int | float):
        message += (
            " (YAML reads unquoted numbers and yes/no/on/off/true/false as other types: put it in quotes)"
        )
    elif kind.endswith("_type") and value is None:
        message += " (it is empty: give a value, or leave the option out)"
    return message


def _unknown_key(loc: Loc) -> str:
    """The message for a key the model does not know, with the valid keys at that place."""
    model = _model_at(loc[:-1])
    if model is None:
        return "unknown option"
    keys = [info.alias or name for name, info in model.model_fields.items()]
    close = difflib.get_close_matches(str(loc[-1]), keys, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"unknown option{hint}; valid keys here are: {', '.join(keys)}"


def _model_at(loc: Loc) -> type[BaseModel] | None:
    """The model class that validates the mapping at `loc` (which may hold a union tag)."""
    current: Any = SyncProject
    for part in loc:
        current = _step(current, part)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _step(kind: Any, part: str | int) -> Any:
    origin = get_origin(kind)
    if origin is Annotated:
        return _step(get_args(kind)[0], part)
    if isinstance(kind, type) and issubclass(kind, BaseModel):
        fields = kind.model_fields.items()
        return next((info.annotation for name, info in fields if part in (name, info.alias)), None)
    if origin in (tuple, list):
        return get_args(kind)[0]
    if origin is dict:
        return get_args(kind)[1]
    if origin in (Union, UnionType):
        members = [member for member in get_args(kind) if member is not type(None)]
        if len(members) == 1:
            return _step(members[0], part)
        return next((m for m in members if (part,) == get_args(m.model_fields["mode"].annotation)), None)
    return None


def _order(issue: ProjectIssue) -> tuple[Any, ...]:
    """Issues in the order of the project's fields, then of keys and list positions."""
    fields = [info.alias or name for name, info in SyncProject.model_fields.items()]
    if not issue.loc:
        return (-1,)
    head = fields.index(issue.loc[0]) if issue.loc[0] in fields else len(fields)
    return (head, *((0, part, "") if isinstance(part, int) else (1, 0, part) for part in issue.loc[1:]))


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
