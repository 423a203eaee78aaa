from __future__ import annotations

from rest_framework.routers import SimpleRouter

from inspection.api import views

router = SimpleRouter()
router.register("inspections", views.InspectionViewSet, basename="api-inspection")
router.register("edge-devices", views.EdgeDeviceViewSet, basename="api-edgedevice")

urlpatterns = router.urls
