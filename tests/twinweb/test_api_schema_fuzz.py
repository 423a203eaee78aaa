"""The API schema is the truth: schemathesis, a property-based client, drives every operation of a live server as
three roles (an auditor who reads, an operator, a quality engineer who writes) and finds no server error, no
undocumented status code and no response that breaks the schema."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from rest_framework.authtoken.models import Token

from tests.support import factories, processes
from traceability import roles

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"
ROLES = {"auditor": roles.AUDITOR, "operator": roles.OPERATOR, "quality": roles.QUALITY_ENGINEER}


def _fuzz(base_url: str, token: str, report: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "schemathesis.cli",
            "run",
            f"{base_url}/api/schema/",
            "--url",
            base_url,
            "-H",
            f"Authorization: Token {token}",
            "--checks",
            CHECKS,
            "--max-examples",
            "12",
            "--seed",
            "2026",
            "--generation-deterministic",
            "--request-timeout",
            "20",
            "--report",
            "ndjson",
            "--report-ndjson-path",
            str(report),
            "--no-color",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.mark.django_db(transaction=True)
def test_no_role_finds_a_server_error_or_a_schema_violation(tmp_path: Path) -> None:
    cell = factories.make_cell()
    batch = factories.make_batch(cell=cell)
    for _ in range(3):
        factories.make_part(batch)
    tokens = {
        name: Token.objects.create(user=factories.make_user(f"fuzz-{name}", role)).key for name, role in ROLES.items()
    }
    env = processes.child_env(LOG_LEVEL="ERROR")
    failures: dict[str, Any] = {}
    with processes.daphne(env, tmp_path / "daphne.log") as server:
        for name, token in tokens.items():
            done = _fuzz(server.url, token, tmp_path / f"{name}.ndjson")
            if done.returncode != 0:
                failures[name] = done.stdout[-6000:] + done.stderr[-2000:]
    assert not failures, json.dumps(failures, indent=1)
