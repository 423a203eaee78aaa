"""URL wiring: pages, the REST API under /api/, its schema and docs, and the admin."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, re_path
from django.views.generic import RedirectView
from django.views.i18n import JavaScriptCatalog
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from twinweb import views

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("", include("monitoring.urls")),  # /readyz, /metrics
    path("accounts/login/", auth_views.LoginView.as_view(template_name="registration/login.html"), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    # The JavaScript's translations (gettext/interpolate in static/*.js), served by the app itself: no CDN.
    path("jsi18n/", JavaScriptCatalog.as_view(), name="javascript-catalog"),
    path("", include("accounts.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="api-schema"), name="api-redoc"),
    path("api/", include("traceability.api.urls")),
    path("api/", include("inspection.api.urls")),
    path("api/", include("gateway.api.urls")),
    path("api/spc/", include("spc.api.urls")),
    path("api/modelops/", include("modelops.api.urls")),
    path("", include("traceability.urls")),
    path("", include("inspection.urls")),
    path("", include("live.urls")),
    path("", include("review.urls")),
    path("", include("profiling.urls")),
    path("", include("modelops.urls")),
    path("spc/", include("spc.urls")),
    re_path(r"^api/(?P<path>.*)$", views.api_not_found),
    # Bookmarks from before Debug Mode and edge profiling had apps (and URLs) of their own.
    re_path(r"^debug/(?P<rest>.*)$", RedirectView.as_view(url="/review/%(rest)s", permanent=True, query_string=True)),
    re_path(r"^edge/(?P<rest>.*)$", RedirectView.as_view(url="/profiling/%(rest)s", permanent=True, query_string=True)),
]
