"""Shared data for the project-file tests: a minimal valid project, dotted-path changes, a fixed "now"."""

from __future__ import annotations

import copy
from typing import Any

import pendulum

NOW = pendulum.datetime(2025, 6, 1, 12, 0, 0, tz="UTC")


def minimal_project() -> dict[str, Any]:
    """The smallest valid project: one table to one new topic, all three sync types."""
    return {
        "name": "orders_to_kafka",
        "sync_types": ["schema", "full", "incremental"],
        "objects": [
            {"database": "shop", "tables": ["orders"], "topic": {"mode": "new", "name": "shop.orders"}}
        ],
    }


def with_changes(changes: dict[str, Any]) -> dict[str, Any]:
    """A minimal project with dotted paths set (`objects.0.topic.name`); the value `DELETE` removes a key."""
    data = minimal_project()
    for path, value in changes.items():
        parent: Any = data
        *parents, last = path.split(".")
        for part in parents:
            parent = parent[int(part)] if isinstance(parent, list) else parent.setdefault(part, {})
        key: Any = int(last) if isinstance(parent, list) else last
        if value is DELETE:
            del parent[key]
        else:
            parent[key] = copy.deepcopy(value)
    return data


DELETE = object()
