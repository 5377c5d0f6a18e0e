"""Check that the running environment has every dependency at its floor (``scripts/floors.txt``).

Usage: ``python scripts/check_floors.py [FLOORS_FILE]``. Prints one line per pin; exits 1 when an installed
version differs from its pin, so a floors venv that pip resolved differently is caught before it is tested.
"""

from __future__ import annotations

import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from packaging.requirements import Requirement

DEFAULT = Path(__file__).resolve().parent / "floors.txt"


def read_pins(path: Path) -> dict[str, str]:
    """Return ``{name: version}`` for each ``name==version`` line of ``path`` (comments skipped)."""
    pins: dict[str, str] = {}
    for line in path.read_text().splitlines():
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        req = Requirement(text)
        (spec,) = req.specifier
        if spec.operator != "==":
            raise SystemExit(f"{path}: {text!r} is not an exact pin (name==version)")
        pins[req.name.lower()] = spec.version
    return pins


def main(argv: list[str]) -> int:
    """Compare installed versions with the pins; return the exit status."""
    path = Path(argv[1]) if len(argv) > 1 else DEFAULT
    wrong = 0
    for name, pinned in read_pins(path).items():
        try:
            installed = version(name)
        except PackageNotFoundError:
            installed = "missing"
        ok = installed == pinned
        wrong += not ok
        print(f"{'ok ' if ok else 'BAD'} {name:40} floor {pinned:10} installed {installed}")
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
