"""`slot_setting_init`: a faster __init__ that keeps the frozen slotted dataclass contract, or refuses."""

from __future__ import annotations

import dataclasses

import pytest

from airflow_provider_obkafka.engine.changes.slots import slot_setting_init


@slot_setting_init
@dataclasses.dataclass(frozen=True, slots=True)
class Point:
    x: int
    y: int = 0
    label: str | None = None


def test_same_contract_as_the_generated_init():
    assert Point(1) == Point(x=1, y=0, label=None) and Point(1, 2, "a").label == "a"
    assert hash(Point(1, 2)) == hash(Point(1, 2))
    assert dataclasses.replace(Point(1, 2), y=3) == Point(1, 3)
    with pytest.raises(dataclasses.FrozenInstanceError):
        Point(1).x = 2  # type: ignore[misc]
    with pytest.raises(TypeError):
        Point()  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        Point(1, z=2)  # type: ignore[call-arg]


def test_refuses_what_it_cannot_keep():
    @dataclasses.dataclass(frozen=True)
    class NoSlots:
        x: int

    @dataclasses.dataclass(frozen=True, slots=True)
    class Factory:
        xs: list[int] = dataclasses.field(default_factory=list)

    with pytest.raises(TypeError, match="not a slot"):
        slot_setting_init(NoSlots)
    with pytest.raises(TypeError, match="default_factory"):
        slot_setting_init(Factory)
