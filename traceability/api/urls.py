from __future__ import annotations

from rest_framework.routers import DefaultRouter

from traceability.api import views

router = DefaultRouter()
router.register("parts", views.PartViewSet, basename="api-part")
router.register("lots", views.LotViewSet, basename="api-lot")
router.register("batches", views.BatchViewSet, basename="api-batch")
router.register("stations", views.StationViewSet, basename="api-station")
router.register("station-events", views.StationEventViewSet, basename="api-stationevent")
router.register("pallets", views.PalletViewSet, basename="api-pallet")
router.register("failure-cases", views.FailureCaseViewSet, basename="api-failurecase")

urlpatterns = router.urls
