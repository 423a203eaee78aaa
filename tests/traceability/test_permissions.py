"""Who may see and do what. Anonymous users see only the login page; auditors read everything and change
nothing; every page and API endpoint is checked here, including ones added later (the URL walk below)."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from tests.support import factories
from traceability.models import FailureCase

JSON = "application/json"  # the API speaks JSON

pytestmark = pytest.mark.django_db

# /readyz answers probes with its status alone; /metrics answers 401 without the scraper's token
# (tests/monitoring/).
PUBLIC = {
    "/accounts/login/",
    "/healthz",
    "/readyz",
    "/metrics",
    "/admin/login/",
    "/jsi18n/",
}  # /jsi18n/: the login page uses it
SAMPLE_VALUES = {"int": "1", "slug": "sample", "str": "sample", "uuid": str(uuid.UUID(int=1)), "path": "sample"}


def _walk(patterns: list[Any], prefix: str = "") -> list[str]:
    paths = []
    for entry in patterns:
        route = str(entry.pattern)
        if isinstance(entry, URLResolver):
            if route.startswith("admin/"):
                continue  # the admin has its own login; checked separately below
            paths += _walk(entry.url_patterns, prefix + route)
        elif isinstance(entry, URLPattern):
            full = prefix + route
            if "(?P<format>" in full or "<drf_format_suffix:" in full:
                continue  # DRF's ".json" suffix twins of the routes below
            if "(?P" in full or "^" in full:
                full = re.sub(r"\(\?P<(\w+)>[^)]*\)", "sample", full)
                full = full.replace("^", "").replace("$", "").replace("/?", "/").replace("\\", "")
            full = re.sub(r"<(?:(\w+):)?(\w+)>", lambda m: SAMPLE_VALUES.get(m.group(1) or "str", "sample"), full)
            paths.append("/" + full.lstrip("/"))
    return sorted(set(paths))


ALL_PATHS = _walk(get_resolver().url_patterns)


@pytest.mark.parametrize("path", [p for p in ALL_PATHS if p not in PUBLIC])
def test_anonymous_users_reach_nothing_but_the_login_page(path: str, client: Client) -> None:
    response = client.get(path)
    if path.startswith("/api/"):
        assert response.status_code in (401, 403), f"{path} answered {response.status_code}"
    else:
        assert response.status_code == 302, f"{path} answered {response.status_code}"
        assert response["Location"].startswith("/accounts/login/")


def test_the_url_walk_sees_the_api_and_the_pages() -> None:
    assert "/api/parts/" in ALL_PATHS
    assert "/trace/" in ALL_PATHS
    assert len(ALL_PATHS) > 20


def test_anonymous_users_are_sent_to_the_login_page_from_the_admin(client: Client) -> None:
    response = client.get("/admin/traceability/part/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_the_login_page_and_health_check_are_open(client: Client) -> None:
    assert client.get("/accounts/login/").status_code == 200
    assert client.get("/healthz").json() == {"status": "ok"}


API_LISTS = [
    "/api/parts/",
    "/api/lots/",
    "/api/batches/",
    "/api/stations/",
    "/api/station-events/",
    "/api/pallets/",
    "/api/failure-cases/",
    "/api/inspections/",
    "/api/edge-devices/",
]


@pytest.mark.parametrize("path", API_LISTS)
def test_auditors_read_every_api_list(path: str, auditor: Any, login: Any) -> None:
    assert login(auditor).get(path).status_code == 200


@pytest.mark.parametrize("path", API_LISTS)
def test_signed_in_users_without_a_role_read_nothing(path: str, outsider: Any, login: Any) -> None:
    assert login(outsider).get(path).status_code == 403


def test_auditors_change_nothing(auditor: Any, quality_engineer: Any, login: Any) -> None:
    part = factories.make_part(actor=quality_engineer)
    from traceability import actions
    from traceability.choices import FoundBy

    case = actions.open_failure_case(
        part, defect_code=factories.make_defect_code(), found_by=FoundBy.MACHINE, actor=None
    )
    response = login(auditor).post(
        f"/api/failure-cases/{case.pk}/disposition/", {"disposition": "scrap"}, content_type=JSON
    )
    assert response.status_code == 403
    assert FailureCase.objects.get(pk=case.pk).disposition == ""


def test_auditors_see_the_admin_read_only(auditor: Any, quality_engineer: Any, login: Any) -> None:
    part = factories.make_part(actor=quality_engineer)
    client = login(auditor)
    assert client.get(f"/admin/traceability/part/{part.pk}/change/").status_code == 200
    response = client.post(f"/admin/traceability/part/{part.pk}/change/", {"serial": "forged"})
    assert response.status_code == 403


def test_quality_engineers_disposition_failure_cases(quality_engineer: Any, login: Any) -> None:
    part = factories.make_part(actor=quality_engineer)
    from traceability import actions
    from traceability.choices import FoundBy

    case = actions.open_failure_case(
        part, defect_code=factories.make_defect_code(), found_by=FoundBy.MACHINE, actor=None
    )
    response = login(quality_engineer).post(
        f"/api/failure-cases/{case.pk}/disposition/",
        {"disposition": "scrap", "reason": "crack", "credential": factories.PASSWORD},
        content_type=JSON,
    )
    assert response.status_code == 200, response.content
    part.refresh_from_db()
    assert part.status == "scrapped"


@pytest.mark.parametrize(
    "persona, expected",
    [("operator", 403), ("supervisor", 403), ("auditor", 403), ("quality_engineer", 200), ("admin_user", 200)],
)
def test_only_quality_engineers_and_admins_disposition_over_the_api(
    persona: str, expected: int, request: Any, login: Any
) -> None:
    from traceability import actions
    from traceability.choices import FoundBy

    case = actions.open_failure_case(
        factories.make_part(), defect_code=factories.make_defect_code(), found_by=FoundBy.MACHINE, actor=None
    )
    response = login(request.getfixturevalue(persona)).post(
        f"/api/failure-cases/{case.pk}/disposition/",
        {"disposition": "rework", "reason": "burr removed", "credential": factories.PASSWORD},
        content_type=JSON,
    )
    assert response.status_code == expected, response.content
    assert FailureCase.objects.get(pk=case.pk).disposition == ("rework" if expected == 200 else "")


@pytest.mark.parametrize(
    "persona, path, expected",
    [
        ("operator", "/trace/", 403),
        ("auditor", "/trace/", 200),
        ("supervisor", "/trace/", 200),
        ("outsider", "/trace/", 403),
        ("operator", "/", 200),
        ("outsider", "/", 200),
    ],
)
def test_pages_follow_the_role_matrix(persona: str, path: str, expected: int, request: Any, login: Any) -> None:
    user = request.getfixturevalue(persona)
    assert login(user).get(path).status_code == expected


def test_machines_authenticate_with_a_token(auditor: Any) -> None:
    from rest_framework.authtoken.models import Token

    token = Token.objects.create(user=auditor)
    client = Client(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert client.get("/api/parts/").status_code == 200
    assert Client(HTTP_AUTHORIZATION="Token wrong").get("/api/parts/").status_code == 401


def test_navigation_shows_what_the_role_may_open(operator: Any, auditor: Any, login: Any) -> None:
    operator_page = login(operator).get("/").content.decode()
    auditor_page = login(auditor).get("/").content.decode()
    assert ">Trace<" not in operator_page
    assert ">Trace<" in auditor_page
    assert ">Admin<" in auditor_page and ">Admin<" not in operator_page
