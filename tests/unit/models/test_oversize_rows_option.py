"""The `oversize_rows` option: validation, and the policy a table gets (table_settings, entry, options)."""

from __future__ import annotations

import pytest

from airflow_provider_obkafka.models.loader import parse_project
from airflow_provider_obkafka.models.oversize import OversizeRows
from airflow_provider_obkafka.models.project_issues import ProjectValidationError
from tests.unit.models.project_data import NOW, with_changes


def issue_lines(changes: dict) -> list[str]:
    with pytest.raises(ProjectValidationError) as caught:
        parse_project(with_changes(changes), source="x.yaml", now=NOW)
    return [str(issue) for issue in caught.value.errors]


@pytest.mark.parametrize(
    ("path", "value"),
    [("options.oversize_rows", "drop"), ("objects.0.oversize_rows", 1),
     ("objects.0.table_settings.orders.oversize_rows", "deadletter")],
)
def test_an_unknown_policy_names_field_value_and_choices(path, value):
    [line] = issue_lines({path: value})
    assert line.startswith(f"{path.replace('.0.', '[0].')}: {value!r}")
    for word in ("fail", "skip", "dead_letter"):
        assert word in line


def test_default_is_fail_and_table_settings_win_over_the_entry_over_options():
    project = parse_project(with_changes({}), source="x.yaml", now=NOW)
    assert project.oversize_rows("shop", "orders") is OversizeRows.FAIL
    assert not project.uses_dead_letter()
    project = parse_project(with_changes({"options.oversize_rows": "SKIP"}), source="x.yaml", now=NOW)
    assert project.oversize_rows("shop", "orders") is OversizeRows.SKIP
    changes = {"options.oversize_rows": "skip", "objects.0.oversize_rows": "fail",
               "objects.0.tables": ["orders", "items"],
               "objects.0.table_settings": {"orders": {"oversize_rows": "dead_letter"}}}
    project = parse_project(with_changes(changes), source="x.yaml", now=NOW)
    assert project.oversize_rows("shop", "orders") is OversizeRows.DEAD_LETTER
    assert project.oversize_rows("shop", "items") is OversizeRows.FAIL
    assert project.uses_dead_letter()
    assert project.dead_letter_topic == "__obkafka_dead_letter.orders_to_kafka"
    import yaml

    assert parse_project(yaml.safe_load(project.to_yaml()), source="x.yaml", now=NOW) == project
