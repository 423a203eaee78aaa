"""The systemd units in deploy/systemd/ are what systemd itself accepts: `systemd-analyze verify` reads each one as
installed (its /opt/twinweb paths pointed at this checkout, so every ExecStart names a program that exists) and
must report nothing. The edge worker's unit keeps what the Jetson needs: after jtop.service, restarted on failure,
never as root."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
UNITS = ROOT / "deploy" / "systemd"
# What `systemd-analyze verify` is given: the template through one instance of it.
TO_VERIFY = [
    "twinweb-web.service",
    "twinweb-ingest.service",
    "twinweb-andon.service",
    "twinweb-gateway@line3-cell-1.service",
    "twinweb-edge.service",
    "twinweb-training.service",
    "twinweb-model-watch.service",
]


def systemd_analyze() -> str:
    found = shutil.which("systemd-analyze")
    if found is None:
        pytest.fail(
            "systemd-analyze is not installed, so the units cannot be verified: install systemd "
            "(Debian: apt-get install -y systemd); it runs without systemd being PID 1"
        )
    return found


def directives(unit: Path) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in unit.read_text().splitlines():
        if "=" in line and not line.lstrip().startswith(("#", ";", "[")):
            key, value = line.split("=", 1)
            found.setdefault(key.strip(), []).append(value.strip())
    return found


def test_the_units_are_the_ones_this_test_verifies() -> None:
    shipped = {p.name for p in UNITS.glob("*.service")}
    assert shipped == {name.replace("@line3-cell-1", "@") for name in TO_VERIFY}


@pytest.mark.parametrize("unit", TO_VERIFY)
def test_systemd_accepts_the_unit(unit: str, tmp_path: Path) -> None:
    tool = systemd_analyze()
    assert (ROOT / ".venv" / "bin" / "python").exists(), "the units run the checkout's .venv: make venv first"
    for source in UNITS.glob("*.service"):
        (tmp_path / source.name).write_text(source.read_text().replace("/opt/twinweb", str(ROOT)))
    done = subprocess.run([tool, "verify", str(tmp_path / unit)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and not done.stdout.strip() and not done.stderr.strip(), done.stdout + done.stderr


def test_the_verifier_catches_a_broken_unit(tmp_path: Path) -> None:
    """The check above can fail: a unit whose program is missing and whose restart policy is misspelt is refused."""
    tool = systemd_analyze()
    broken = (UNITS / "twinweb-andon.service").read_text().replace("Restart=on-failure", "Restart=on-failur")
    (tmp_path / "twinweb-andon.service").write_text(broken)
    done = subprocess.run(
        [tool, "verify", str(tmp_path / "twinweb-andon.service")], capture_output=True, text=True, timeout=120
    )
    assert done.returncode != 0
    assert "on-failur" in done.stderr and "/opt/twinweb/.venv/bin/python" in done.stderr


def test_every_unit_reads_an_environment_file_and_runs_as_the_twinweb_user() -> None:
    for unit in UNITS.glob("*.service"):
        found = directives(unit)
        assert found.get("EnvironmentFile", [""])[0].startswith("/etc/twinweb/"), unit.name
        assert found.get("User") == ["twinweb"], unit.name
        assert found.get("Restart") == ["on-failure"], unit.name


def test_the_edge_worker_starts_after_jtop_and_restarts_on_failure() -> None:
    edge = directives(UNITS / "twinweb-edge.service")
    assert "jtop.service" in " ".join(edge["After"]).split()
    assert edge["Restart"] == ["on-failure"]
    assert edge["User"] != ["root"]
    assert "-m edge_worker.worker" in edge["ExecStart"][0]


def test_the_gateway_is_a_template_run_per_cell() -> None:
    gateway = directives(UNITS / "twinweb-gateway@.service")
    assert gateway["ExecStart"][0].endswith("manage.py run_cell_gateway --cell %i")
