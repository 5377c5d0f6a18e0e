"""The copy of the formats reference in tests/reference/ stays the team's reference, word for word."""

from __future__ import annotations

import pytest

from tests.unit.engine.oms_reference import VENDORED, shared_reference_file


def test_the_vendored_reference_equals_the_shared_one():
    shared = shared_reference_file()
    if shared is None:
        pytest.skip("no shared reference beside this checkout (a clean CI checkout): the vendored copy is used")
    assert VENDORED.read_bytes() == shared.read_bytes(), (
        f"{VENDORED} differs from {shared}: copy the shared reference over it"
    )


def test_the_vendored_reference_is_there():
    assert VENDORED.is_file()
    assert "## 1." in VENDORED.read_text(encoding="utf-8")
