"""
The violations of a project file (`ProjectIssue`, collected in `ProjectValidationError`) and how pydantic's
field errors become them in plain words: the path without union tags, the value as given, and the rule
(with the valid keys, and the closest one, for an unknown key). `loader` reports them; every name here is
importable from `loader` too.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from types import UnionType
from typing import TYPE_CHECKING, Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel

from airflow_provider_obkafka.exceptions import ConfigError
from airflow_provider_obkafka.models.naming import Loc, format_path
from airflow_provider_obkafka.models.project import SyncProject

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["MISSING", "ProjectIssue", "ProjectValidationError"]


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
