"""Output serializers of the traceability API. Part and lot resources link to each other with `url`s."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rest_framework import serializers

from traceability.models import (
    Batch,
    FailureCase,
    LotConsumption,
    MaterialLot,
    Pallet,
    Part,
    Station,
    StationEvent,
)

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from traceability.models import DefectCode, MaterialDefinition, PartType


class LotRefSerializer(serializers.ModelSerializer):
    url = serializers.HyperlinkedIdentityField(view_name="api-lot-detail", lookup_field="lot_key")

    class Meta:
        model = MaterialLot
        fields = ["lot_key", "url", "status"]


class PartRefSerializer(serializers.ModelSerializer):
    url = serializers.HyperlinkedIdentityField(view_name="api-part-detail", lookup_field="serial")

    class Meta:
        model = Part
        fields = ["serial", "url", "status"]


class LotConsumptionSerializer(serializers.ModelSerializer):
    lot = LotRefSerializer(read_only=True)

    class Meta:
        model = LotConsumption
        fields = ["lot", "quantity", "consumed_at"]


class PartSerializer(serializers.ModelSerializer):
    url = serializers.HyperlinkedIdentityField(view_name="api-part-detail", lookup_field="serial")
    part_type: serializers.SlugRelatedField[PartType] = serializers.SlugRelatedField(slug_field="code", read_only=True)
    batch: serializers.HyperlinkedRelatedField[Batch] = serializers.HyperlinkedRelatedField(
        view_name="api-batch-detail", lookup_field="batch_number", read_only=True
    )
    batch_number = serializers.CharField(source="batch.batch_number", read_only=True)
    pallet: serializers.SlugRelatedField[Pallet] = serializers.SlugRelatedField(
        slug_field="sscc", read_only=True, allow_null=True
    )
    lots = LotConsumptionSerializer(source="lot_consumptions", many=True, read_only=True)

    class Meta:
        model = Part
        fields = [
            "serial",
            "url",
            "part_type",
            "batch",
            "batch_number",
            "status",
            "created_at",
            "status_changed_at",
            "pallet",
            "packed_at",
            "lots",
        ]


class LotSerializer(serializers.ModelSerializer):
    url = serializers.HyperlinkedIdentityField(view_name="api-lot-detail", lookup_field="lot_key")
    material: serializers.SlugRelatedField[MaterialDefinition] = serializers.SlugRelatedField(
        slug_field="code", read_only=True
    )
    parts_url = serializers.SerializerMethodField()

    class Meta:
        model = MaterialLot
        fields = [
            "lot_key",
            "url",
            "material",
            "supplier",
            "supplier_lot_number",
            "received_at",
            "quantity",
            "status",
            "parts_url",
        ]

    def get_parts_url(self, lot: MaterialLot) -> str:
        request = self.context.get("request")
        path = f"/api/parts/?lot={lot.lot_key}"
        return request.build_absolute_uri(path) if request else path


class BatchSerializer(serializers.ModelSerializer):
    url = serializers.HyperlinkedIdentityField(view_name="api-batch-detail", lookup_field="batch_number")
    part_type: serializers.SlugRelatedField[PartType] = serializers.SlugRelatedField(slug_field="code", read_only=True)
    part_count = serializers.IntegerField(read_only=True)
    passed_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Batch
        fields = [
            "batch_number",
            "url",
            "part_type",
            "cell",
            "planned_quantity",
            "status",
            "created_at",
            "part_count",
            "passed_count",
        ]


class StationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Station
        fields = ["id", "cell", "code", "name", "kind", "position"]


class StationEventSerializer(serializers.ModelSerializer):
    part = PartRefSerializer(read_only=True)
    station: serializers.SlugRelatedField[Station] = serializers.SlugRelatedField(slug_field="code", read_only=True)
    duration_s = serializers.FloatField(read_only=True)

    class Meta:
        model = StationEvent
        fields = ["id", "part", "station", "entered_at", "left_at", "duration_s", "outcome", "parameters"]


class PalletSerializer(serializers.ModelSerializer):
    part_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Pallet
        fields = ["sscc", "status", "created_at", "shipped_at", "part_count"]


class FailureCaseSerializer(serializers.ModelSerializer):
    part = PartRefSerializer(read_only=True)
    defect_code: serializers.SlugRelatedField[DefectCode] = serializers.SlugRelatedField(
        slug_field="code", read_only=True
    )
    owner: serializers.SlugRelatedField[User] = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )
    station: serializers.SlugRelatedField[Station] = serializers.SlugRelatedField(slug_field="code", read_only=True)

    class Meta:
        model = FailureCase
        fields = [
            "id",
            "part",
            "defect_code",
            "found_by",
            "station",
            "description",
            "disposition",
            "status",
            "pending_disposition",
            "owner",
            "opened_at",
            "closed_at",
        ]


class DispositionInputSerializer(serializers.Serializer):
    disposition = serializers.ChoiceField(choices=["scrap", "rework", "use_as_is"])
    reason = serializers.CharField(max_length=2000, help_text="Why: part of the signed record.")
    credential = serializers.CharField(
        max_length=200, write_only=True, help_text="The signer's password or signing PIN: the decision is signed."
    )


class CountersignInputSerializer(serializers.Serializer):
    credential = serializers.CharField(
        max_length=200, write_only=True, help_text="The second person's password or signing PIN."
    )
