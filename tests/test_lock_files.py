"""The lock files (exact versions and hashes of every package, dependencies included) say what requirements*.txt
say: a pin changed in a requirements file without `make lock` fails here, before an install does."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PIN = re.compile(r"^([A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?\s*==\s*([^\s#;\\]+)")


def normalised(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(path: Path) -> dict[str, str]:
    found: dict[str, str] = {}
    for raw in path.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if line.startswith(("-r", "--requirement")):
            found.update(pins(path.parent / line.split(maxsplit=1)[1]))
        elif match := PIN.match(line):
            found[normalised(match.group(1))] = match.group(2)
    return found


def locked(path: Path) -> dict[str, str]:
    return {normalised(m.group(1)): m.group(2) for line in path.read_text().splitlines() if (m := PIN.match(line))}


@pytest.mark.parametrize(
    ("requirements", "lock", "left_out"),
    [
        ("requirements.txt", "requirements.lock", set()),
        ("requirements-edge.txt", "requirements-edge.lock", set()),
        # torch is installed first, from the machine's CPU wheel (Makefile)
        ("requirements-train.txt", "requirements-train.lock", {"torch"}),
        ("requirements-dev.txt", "requirements-dev.lock", {"torch"}),
    ],
)
def test_each_lock_pins_what_its_requirements_pin(requirements: str, lock: str, left_out: set[str]) -> None:
    wanted = {name: version for name, version in pins(ROOT / requirements).items() if name not in left_out}
    have = locked(ROOT / lock)
    assert wanted, requirements
    differs = {name: (version, have.get(name)) for name, version in wanted.items() if have.get(name) != version}
    assert not differs, f"{lock} is out of date (requirement, locked): {differs}; run `make lock`"


@pytest.mark.parametrize(
    "lock", ["requirements.lock", "requirements-edge.lock", "requirements-train.lock", "requirements-dev.lock"]
)
def test_every_locked_package_carries_its_hashes(lock: str) -> None:
    text = (ROOT / lock).read_text()
    entries = re.split(r"\n(?=[A-Za-z0-9])", text.split("\n", 2)[2])  # after the two header comment lines
    unhashed = [entry.split()[0] for entry in entries if PIN.match(entry) and "--hash=sha256:" not in entry]
    assert not unhashed, unhashed
