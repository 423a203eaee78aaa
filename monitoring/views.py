"""/readyz (readiness, with every component's status for admins) and /metrics (Prometheus).

/healthz (twinweb/views.py) stays the liveness probe: the process answers and reaches its database.
"""

from __future__ import annotations

import hmac

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from monitoring import health
from monitoring.collectors import ClusterCollector
from traceability import roles
from twinweb.metrics import PROCESS_REGISTRY


def _is_admin(request: HttpRequest) -> bool:
    user = request.user
    return bool(user.is_authenticated and (user.is_superuser or user.groups.filter(name=roles.ADMIN).exists()))


@never_cache
@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    """200 while this web server can serve (database, Redis and channel layer answer), else 503. `status` is
    ok, degraded (a worker, gateway or edge device is down or late) or down. Admins also get every component."""
    report = health.run_checks(health.planned_checks())
    body: dict[str, object] = {"status": report.status.value}
    if _is_admin(request):
        body["checked_at"] = timezone.now().isoformat()
        body["components"] = [c.to_dict() for c in report.components]
    return JsonResponse(body, status=200 if report.ready else 503)


def _may_scrape(request: HttpRequest) -> bool:
    token = str(settings.TWINWEB_METRICS_TOKEN)
    header = request.headers.get("authorization", "")
    if token and header.startswith("Bearer ") and hmac.compare_digest(header.removeprefix("Bearer "), token):
        return True
    return _is_admin(request)


@never_cache
@require_GET
def prometheus_metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus text format: this web process's own metrics and the cluster's (database, Redis).
    Prometheus sends `Authorization: Bearer <TWINWEB_METRICS_TOKEN>`; a signed-in admin may read it too."""
    if not _may_scrape(request):
        response = HttpResponse("metrics need the scraper's bearer token\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    cluster = CollectorRegistry(auto_describe=False)
    cluster.register(ClusterCollector())
    body = generate_latest(PROCESS_REGISTRY) + generate_latest(cluster)
    return HttpResponse(body, content_type=CONTENT_TYPE_LATEST)
