from __future__ import annotations

from typing import TYPE_CHECKING

from rest_framework import serializers

from inspection.models import DefectFinding, EdgeDevice, Inspection, Measurement

if TYPE_CHECKING:
    from traceability.models import Station


class MeasurementSerializer(serializers.ModelSerializer):
    class Meta:
        model = Measurement
        fields = ["name", "kind", "value", "nominal", "lower_tol", "upper_tol", "unit", "passed", "geometry"]


class DefectFindingSerializer(serializers.ModelSerializer):
    class Meta:
        model = DefectFinding
        fields = ["defect_class", "confidence", "bbox"]


class InspectionSerializer(serializers.ModelSerializer):
    serial = serializers.CharField(source="part.serial", read_only=True)
    station: serializers.SlugRelatedField[Station] = serializers.SlugRelatedField(slug_field="code", read_only=True)
    device: serializers.SlugRelatedField[EdgeDevice] = serializers.SlugRelatedField(
        slug_field="device_id", read_only=True, allow_null=True
    )
    image_url = serializers.SerializerMethodField()
    measurements = MeasurementSerializer(many=True, read_only=True)
    defects = DefectFindingSerializer(many=True, read_only=True)

    class Meta:
        model = Inspection
        fields = [
            "result_id",
            "capture_id",
            "serial",
            "station",
            "device",
            "verdict",
            "reason",
            "defect_class",
            "defect_confidence",
            "class_probabilities",
            "findings",
            "image_url",
            "model_version",
            "backend",
            "backend_version",
            "precision",
            "latency_ms",
            "avg_power_mw",
            "energy_mj",
            "power_note",
            "captured_at",
            "inspected_at",
            "received_at",
            "needs_review",
            "measurements",
            "defects",
        ]

    def get_image_url(self, inspection: Inspection) -> str | None:
        return inspection.image.get_absolute_url() if inspection.image is not None else None


class EdgeDeviceSerializer(serializers.ModelSerializer):
    class Meta:
        model = EdgeDevice
        fields = [
            "device_id",
            "name",
            "cell",
            "hardware",
            "backend",
            "backend_version",
            "precision",
            "model_version",
            "power_source",
            "last_heartbeat_at",
            "last_telemetry",
        ]
