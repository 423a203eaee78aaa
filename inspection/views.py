"""Pages of the inspection app."""
from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, HttpRequest
from django.shortcuts import get_object_or_404

from inspection.models import ImageBlob


@login_required
def image(request: HttpRequest, sha256: str) -> FileResponse:
    """An inspection image: evidence, so only users who may see inspections get it."""
    if not request.user.has_perm("inspection.view_inspection"):
        raise PermissionDenied
    blob = get_object_or_404(ImageBlob, sha256=sha256)
    response = FileResponse(blob.file.open("rb"), content_type=blob.content_type)
    response["Cache-Control"] = "private, max-age=31536000, immutable"
    return response
