"""Navigation by role: each page's menu shows only what the signed-in user may open."""
from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse

from traceability import roles

# (label, url name, permission needed or None for any signed-in user)
NAVIGATION: tuple[tuple[str, str, str | None], ...] = (
    ("Live view", "home", roles.VIEW_LIVE),
    ("Trace", "trace-search", roles.VIEW_TRACE),
    ("Debug Mode", "review-queue", roles.REVIEW),
    # Quality records the roles that read everything keep in view (operators reach them from links, and keep a
    # header that fits a portrait tablet).
    ("Drawings", "drawings", "traceability.view_drawingrevision"),
    ("Calibration", "calibration", "inspection.view_stationcalibration"),
    ("Edge", "profiling-runs", None),
    ("SPC", "spc-index", "spc.view_controllimits"),
)


def navigation(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_items": [], "user_role": None}
    items = []
    for label, url_name, permission in NAVIGATION:
        if permission and not user.has_perm(permission):
            continue
        try:
            url = reverse(url_name)
        except NoReverseMatch:
            continue  # the page is not installed
        items.append({"label": label, "url": url, "active": request.path.startswith(url) and url != "/"})
    if user.is_staff:
        items.append({"label": "Admin", "url": reverse("admin:index"), "active": request.path.startswith("/admin/")})
    return {"nav_items": items, "user_role": roles.role_of(user)}
