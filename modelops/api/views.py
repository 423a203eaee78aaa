"""The device's model delivery endpoints (edge_worker.contracts.model_delivery): each request is a device-signed
message, verified as every edge message is (inspection.actions.edge_auth.verify: MAC, age, nonce); the answer
naming what to install is signed back with the device's secrets in force."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

from django.conf import settings
from django.http import FileResponse, HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from edge_worker.contracts import model_delivery as md
from edge_worker.contracts.signing import AuthError, sign_command
from inspection.actions import edge_auth
from inspection.actions.ingest import PayloadRefused
from modelops import actions, selectors
from modelops.errors import ModelRefused
from modelops.models import DeployIntent
from profiling.actions import ProfilingReportError, store_profiling_run

View = Callable[[HttpRequest], HttpResponse]


def _posted_json(request: HttpRequest) -> Any:
    """The JSON a device POSTed, or the refusal to answer with."""
    if request.method != "POST":  # nothing here answers anyone but a device, and a device signs a POST
        return JsonResponse({"refused": "unsigned: a device-signed POST is required"}, status=403)
    try:
        return json.loads(request.body or b"null")
    except (ValueError, UnicodeDecodeError):
        return JsonResponse({"refused": "not JSON"}, status=400)


def _verified(request: HttpRequest, task: str) -> edge_auth.Authenticated | HttpResponse:
    message = _posted_json(request)
    if isinstance(message, HttpResponse):
        return message
    try:
        return edge_auth.verify(message, task=task)
    except AuthError as exc:
        return JsonResponse({"refused": exc.problem}, status=403)


def _deployment(intent: DeployIntent) -> dict[str, Any]:
    return {
        "intent_id": intent.pk,
        "alias": intent.alias,
        "version": intent.version.version,
        "sha256": intent.version.sha256,
        "bytes": intent.version.bytes,
        "card": intent.version.card,
    }


@csrf_exempt
def deployment(request: HttpRequest) -> HttpResponse:
    auth = _verified(request, md.DEPLOYMENT_TASK)
    if isinstance(auth, HttpResponse):
        return auth
    intents = selectors.pending_for(auth.device)
    actions.mark_offered(intents)
    # What the device's cell assigns now, so the device retires an alias no longer assigned (a promoted candidate).
    assigned = (
        {a.alias: a.version.sha256 for a in selectors.aliases_of(auth.device.cell).values()}
        if auth.device.cell is not None
        else {}
    )
    body = {"device_id": auth.device.device_id, "deployments": [_deployment(i) for i in intents], "assigned": assigned}
    secrets = [record.secret() for record in edge_auth.secrets_in_force(auth.device)]
    return JsonResponse(sign_command(body, task=md.DEPLOYMENT_TASK, secrets_in_force=secrets))


@csrf_exempt
def download(request: HttpRequest) -> HttpResponse | FileResponse:
    auth = _verified(request, md.DOWNLOAD_TASK)
    if isinstance(auth, HttpResponse):
        return auth
    try:
        intent_id = int(auth.body.get("intent_id", 0))
    except (TypeError, ValueError):
        return JsonResponse({"refused": "intent_id is not a number"}, status=400)
    intent = (
        DeployIntent.objects.select_related("version")
        .filter(pk=intent_id, device=auth.device, version__sha256=str(auth.body.get("sha256", "")))
        .first()
    )
    if intent is None:
        return JsonResponse({"refused": "no such deployment for this device"}, status=404)
    path = Path(settings.MEDIA_ROOT) / intent.version.file
    if not path.is_file():
        return JsonResponse({"refused": f"model file {intent.version.file} is missing on the server"}, status=404)
    # Served as stored: the device checks length and sha256 against the signed deployment answer.
    return FileResponse(path.open("rb"), content_type="application/octet-stream")


@csrf_exempt
def report(request: HttpRequest) -> HttpResponse:
    auth = _verified(request, md.REPORT_TASK)
    if isinstance(auth, HttpResponse):
        return auth
    try:
        intent = actions.record_device_report(
            auth.device,
            intent_id=int(auth.body.get("intent_id", 0)),
            sha256=str(auth.body.get("sha256", "")),
            status=str(auth.body.get("status", "")),
            reason=str(auth.body.get("reason", "")),
            progress=str(auth.body.get("progress", "")),
            engines=auth.body.get("engines"),
            profiling_run_id=str(auth.body.get("profiling_run_id") or ""),
        )
    except (ModelRefused, ValueError, TypeError, AttributeError) as exc:
        return JsonResponse({"refused": str(exc)}, status=400)
    return JsonResponse({"status": intent.status})


@csrf_exempt
def profiling(request: HttpRequest) -> HttpResponse:
    """The profiling report of a delivered version, over the same HTTP the delivery uses. It is the report the
    device would put on the `ingest` queue, signed the same way, and it is stored by the same action
    (profiling.actions.store_profiling_run: authenticated, validated, idempotent on its run id)."""
    message = _posted_json(request)
    if isinstance(message, HttpResponse):
        return message
    try:
        run, created = store_profiling_run(message)
    except PayloadRefused as exc:
        return JsonResponse({"refused": str(exc)}, status=403)
    except ProfilingReportError as exc:
        return JsonResponse({"refused": str(exc)}, status=400)
    return JsonResponse({"run": str(run.run_id), "status": run.status, "created": created})


@csrf_exempt
def shadow(request: HttpRequest) -> HttpResponse:
    auth = _verified(request, md.SHADOW_TASK)
    if isinstance(auth, HttpResponse):
        return auth
    comparisons = auth.body.get("comparisons")
    if not isinstance(comparisons, list):
        return JsonResponse({"refused": "comparisons must be a list"}, status=400)
    try:
        stored = actions.record_shadow(auth.device, comparisons[:1000])
    except (KeyError, TypeError, ValueError) as exc:
        return JsonResponse({"refused": f"malformed comparison: {exc}"}, status=400)
    return JsonResponse({"stored": stored})
