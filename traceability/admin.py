"""Django admin for the traceability domain. Every save and delete goes through the audited actions.

Fields that plant rules govern (a part's status and pallet, a lot's status, a case's disposition, a pallet's
status) are read-only here: they change through their own actions (containment on the lot's trace page, the
admin actions below for cases and pallets), which enforce the rules that a generic save would skip.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import Model, QuerySet
from django.forms import BaseInlineFormSet, ModelForm
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html

from traceability import actions
from traceability.choices import Disposition
from traceability.errors import DomainError
from traceability.forms import CountersignForm, DispositionForm
from traceability.models import (
    Area,
    AuditRecord,
    Batch,
    Cell,
    Containment,
    ContainmentHold,
    DefectCode,
    DimensionalFeature,
    DrawingRevision,
    FailureCase,
    Line,
    LotConsumption,
    LotLink,
    MaterialDefinition,
    MaterialLot,
    Pallet,
    Part,
    PartComponent,
    PartType,
    RecordSignature,
    SigningGuard,
    SigningPin,
    Site,
    Station,
    StationEvent,
)


class AuditedAdmin(admin.ModelAdmin):
    """Saves and deletes through `traceability.actions`, so admin edits land in the audit trail too."""

    def save_model(self, request: HttpRequest, obj: Model, form: ModelForm, change: bool) -> None:
        actions.save_record(obj, actor=request.user, reason="edited in admin")

    def delete_model(self, request: HttpRequest, obj: Model) -> None:
        actions.delete_record(obj, actor=request.user, reason="deleted in admin")

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        for obj in queryset:
            actions.delete_record(obj, actor=request.user, reason="deleted in admin")

    def save_formset(self, request: HttpRequest, form: ModelForm, formset: BaseInlineFormSet, change: bool) -> None:
        instances = formset.save(commit=False)
        for obj in formset.deleted_objects:
            actions.delete_record(obj, actor=request.user, reason="deleted in admin")
        for obj in instances:
            actions.save_record(obj, actor=request.user, reason="edited in admin")
        formset.save_m2m()


def _each_through_action(
    modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Any], action: Any, done: str
) -> None:
    """Run one audited action per selected object; a refusal by a plant rule is shown, not raised."""
    count = 0
    for obj in queryset:
        try:
            action(obj)
            count += 1
        except DomainError as refusal:
            modeladmin.message_user(request, f"{obj}: {refusal}", messages.ERROR)
    if count:
        modeladmin.message_user(request, f"{count} {done}.", messages.SUCCESS)


def _trace_link(url_name: str, key: str, text: str) -> str:
    return format_html('<a href="{}">{}</a>', reverse(url_name, args=[key]), text)


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Site)
class SiteAdmin(AuditedAdmin):
    search_fields = ["code", "name"]


@admin.register(Area)
class AreaAdmin(AuditedAdmin):
    list_display = ["code", "name", "site"]
    search_fields = ["code", "name"]


@admin.register(Line)
class LineAdmin(AuditedAdmin):
    list_display = ["code", "name", "area"]
    search_fields = ["code", "name"]


class StationInline(admin.TabularInline):
    model = Station
    extra = 0


@admin.register(Cell)
class CellAdmin(AuditedAdmin):
    list_display = ["code", "name", "line", "target_cycle_time_s"]
    search_fields = ["code", "name"]
    inlines = [StationInline]


@admin.register(Station)
class StationAdmin(AuditedAdmin):
    list_display = ["code", "name", "cell", "kind", "position"]
    list_filter = ["cell", "kind"]
    search_fields = ["code", "name"]


class DimensionalFeatureInline(ReadOnlyInline):
    model = DimensionalFeature
    fields = ("name", "kind", "nominal", "lower_tol", "upper_tol", "unit")
    readonly_fields = ("name", "kind", "nominal", "lower_tol", "upper_tol", "unit")


@admin.register(PartType)
class PartTypeAdmin(AuditedAdmin):
    """Names, GTIN and the four-eyes rule are edited here; the drawing (family, revisions, features) only through
    the Drawings page (/drawings/), where every change releases an audited revision."""

    list_display = ["code", "name", "family", "drawing_number", "revision", "four_eyes_override"]
    search_fields = ["code", "name", "drawing_number"]
    list_filter = ["family", "four_eyes_override"]
    readonly_fields = ["family", "drawing_number", "revision"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # a new part type comes with its first drawing: /drawings/new/


@admin.register(DrawingRevision)
class DrawingRevisionAdmin(ReadOnlyAdmin):
    list_display = ["part_type", "drawing_number", "revision", "released_at", "released_by"]
    list_filter = ["part_type"]
    inlines = [DimensionalFeatureInline]


@admin.register(MaterialDefinition)
class MaterialDefinitionAdmin(AuditedAdmin):
    list_display = ["code", "name", "unit"]
    search_fields = ["code", "name"]


class ChildLinkInline(ReadOnlyInline):
    model = LotLink
    fk_name = "parent"
    verbose_name = "lot this lot went into"
    verbose_name_plural = "lots this lot went into (splits and merges)"


class ParentLinkInline(ReadOnlyInline):
    model = LotLink
    fk_name = "child"
    verbose_name = "lot this lot came from"
    verbose_name_plural = "lots this lot came from"


@admin.register(MaterialLot)
class MaterialLotAdmin(AuditedAdmin):
    list_display = ["lot_key", "material", "supplier", "supplier_lot_number", "received_at", "quantity", "status"]
    list_filter = ["status", "material", "supplier"]
    search_fields = ["lot_key", "supplier", "supplier_lot_number"]
    date_hierarchy = "received_at"
    inlines = [ParentLinkInline, ChildLinkInline]
    readonly_fields = ["status", "status_before_containment", "containment"]

    @admin.display(description="Containment")
    def containment(self, obj: MaterialLot) -> str:
        if not obj.pk:
            return "-"
        return _trace_link("trace-lot", obj.lot_key, "Contain or release on the lot's trace page (with a reason)")


@admin.register(Batch)
class BatchAdmin(AuditedAdmin):
    list_display = ["batch_number", "part_type", "cell", "planned_quantity", "status", "created_at"]
    list_filter = ["status", "part_type"]
    search_fields = ["batch_number"]
    date_hierarchy = "created_at"


class LotConsumptionInline(ReadOnlyInline):
    model = LotConsumption
    fields = ("lot", "quantity", "consumed_at")
    readonly_fields = fields


class StationEventInline(ReadOnlyInline):
    model = StationEvent
    fields = ("station", "entered_at", "left_at", "outcome", "parameters")
    readonly_fields = fields


class ComponentInline(ReadOnlyInline):
    model = PartComponent
    fk_name = "assembly"
    fields = ("component", "assembled_at")
    readonly_fields = fields


@admin.register(Part)
class PartAdmin(AuditedAdmin):
    list_display = ["serial", "part_type", "batch", "status", "created_at", "pallet"]
    list_filter = ["status", "part_type"]
    search_fields = ["serial", "batch__batch_number"]
    date_hierarchy = "created_at"
    list_select_related = ["part_type", "batch", "pallet"]
    raw_id_fields = ["batch"]
    inlines = [LotConsumptionInline, ComponentInline, StationEventInline]
    readonly_fields = ["status", "status_changed_at", "status_on_release", "pallet", "packed_at", "genealogy"]

    @admin.display(description="Genealogy")
    def genealogy(self, obj: Part) -> str:
        if not obj.pk:
            return "-"
        return _trace_link("trace-part", obj.serial, "Trace, inspections and decisions")


@admin.register(StationEvent)
class StationEventAdmin(AuditedAdmin):
    list_display = ["part", "station", "entered_at", "left_at", "outcome"]
    list_filter = ["station", "outcome"]
    search_fields = ["part__serial"]
    raw_id_fields = ["part"]
    list_select_related = ["part", "station__cell"]


@admin.register(Pallet)
class PalletAdmin(AuditedAdmin):
    list_display = ["sscc", "status", "created_at", "shipped_at"]
    list_filter = ["status"]
    search_fields = ["sscc"]
    readonly_fields = ["status", "shipped_at"]
    actions = ["close_selected", "ship_selected"]

    @admin.action(description="Close the selected pallets", permissions=["change"])
    def close_selected(self, request: HttpRequest, queryset: QuerySet[Pallet]) -> None:
        _each_through_action(
            self, request, queryset, lambda p: actions.close_pallet(p, actor=request.user), "pallets closed"
        )

    @admin.action(
        description="Ship the selected pallets (refused while a part on them is held)", permissions=["change"]
    )
    def ship_selected(self, request: HttpRequest, queryset: QuerySet[Pallet]) -> None:
        _each_through_action(
            self, request, queryset, lambda p: actions.ship_pallet(p, actor=request.user), "pallets shipped"
        )


@admin.register(DefectCode)
class DefectCodeAdmin(AuditedAdmin):
    list_display = ["code", "name", "severity"]
    list_filter = ["severity"]
    search_fields = ["code", "name"]


@admin.register(FailureCase)
class FailureCaseAdmin(AuditedAdmin):
    list_display = ["id", "part", "defect_code", "found_by", "disposition", "status", "owner", "opened_at"]
    list_filter = ["status", "disposition", "found_by", "defect_code"]
    search_fields = ["part__serial", "description"]
    raw_id_fields = ["part"]
    list_select_related = ["part", "defect_code", "owner"]
    readonly_fields = ["disposition", "status", "pending_disposition", "closed_at"]
    actions = ["decide", "countersign"]

    def _signed(
        self,
        request: HttpRequest,
        queryset: QuerySet[FailureCase],
        *,
        title: str,
        form_class: type,
        act: Any,
        done: str,
    ) -> TemplateResponse | None:
        """An admin action that signs: an intermediate page asks for what the signature needs (as the API and
        Debug Mode do), then each selected case goes through the same signed action."""
        form = form_class(request.POST if "apply" in request.POST else None)
        if "apply" in request.POST and form.is_valid():
            _each_through_action(self, request, queryset, lambda case: act(case, form.cleaned_data), done)
            return None
        return TemplateResponse(
            request,
            "admin/traceability/failurecase/sign.html",
            {
                **self.admin_site.each_context(request),
                "title": title,
                "form": form,
                "cases": queryset,
                "action": request.POST.get("action", ""),
                "opts": self.model._meta,
            },
        )

    @admin.action(description="Decide (signed): scrap, rework or use as is", permissions=["change"])
    def decide(self, request: HttpRequest, queryset: QuerySet[FailureCase]) -> TemplateResponse | None:
        return self._signed(
            request,
            queryset,
            title="Decide failure cases (signed)",
            form_class=DispositionForm,
            act=lambda case, data: actions.decide_failure_case(
                case,
                disposition=Disposition(data["disposition"]),
                reason=data["reason"],
                credential=data["credential"],
                actor=request.user,
                request=request,
            ),
            done="cases decided (their parts follow; a use-as-is on a four-eyes part type awaits a countersignature)",
        )

    @admin.action(description="Countersign (signed) a disposition that awaits it", permissions=["change"])
    def countersign(self, request: HttpRequest, queryset: QuerySet[FailureCase]) -> TemplateResponse | None:
        return self._signed(
            request,
            queryset,
            title="Countersign dispositions (signed)",
            form_class=CountersignForm,
            act=lambda case, data: actions.countersign_failure_case(
                case, credential=data["credential"], actor=request.user, request=request
            ),
            done="dispositions countersigned",
        )


@admin.register(DimensionalFeature)
class DimensionalFeatureAdmin(ReadOnlyAdmin):
    list_display = ["part_type", "name", "kind", "nominal", "lower_tol", "upper_tol", "unit"]
    list_filter = ["part_type", "kind"]
    search_fields = ["name"]


class GenealogyLinkAdmin(AuditedAdmin):
    """Genealogy links are written by production actions; the admin shows them, and audits any correction."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(LotLink)
class LotLinkAdmin(GenealogyLinkAdmin):
    list_display = ["parent", "child", "kind", "quantity", "linked_at"]
    list_filter = ["kind"]
    search_fields = ["parent__lot_key", "child__lot_key"]
    raw_id_fields = ["parent", "child"]


@admin.register(LotConsumption)
class LotConsumptionAdmin(GenealogyLinkAdmin):
    list_display = ["part", "lot", "quantity", "consumed_at"]
    search_fields = ["part__serial", "lot__lot_key"]
    raw_id_fields = ["part", "lot"]
    list_select_related = ["part", "lot"]


@admin.register(PartComponent)
class PartComponentAdmin(GenealogyLinkAdmin):
    list_display = ["assembly", "component", "assembled_at"]
    search_fields = ["assembly__serial", "component__serial"]
    raw_id_fields = ["assembly", "component"]


class ContainmentHoldInline(ReadOnlyInline):
    model = ContainmentHold
    fields = ("part",)
    readonly_fields = fields


@admin.register(Containment)
class ContainmentAdmin(ReadOnlyAdmin):
    """Containments are placed and released on the lot's trace page (or the API), with a reason."""

    list_display = ["lot", "contained_at", "contained_by", "released_at", "released_by"]
    list_filter = [("released_at", admin.EmptyFieldListFilter)]
    search_fields = ["lot__lot_key", "reason", "release_reason"]
    list_select_related = ["lot", "contained_by", "released_by"]
    inlines = [ContainmentHoldInline]


@admin.register(ContainmentHold)
class ContainmentHoldAdmin(ReadOnlyAdmin):
    list_display = ["part", "containment"]
    search_fields = ["part__serial", "containment__lot__lot_key"]
    list_select_related = ["part", "containment__lot"]
    raw_id_fields = ["part"]


@admin.register(AuditRecord)
class AuditRecordAdmin(ReadOnlyAdmin):
    """The audit trail, read-only: the database refuses changes anyway."""

    list_display = ["id", "created_at", "actor_name", "action", "subject_type", "subject_key", "corrects"]
    list_filter = ["action", "subject_type"]
    search_fields = ["subject_key", "actor_name", "action"]
    date_hierarchy = "created_at"


# --- Electronic signatures (written by the signing path: read-only here) -----------------------------------


@admin.register(RecordSignature)
class RecordSignatureAdmin(ReadOnlyAdmin):
    list_display = ["subject_type", "subject_key", "meaning", "printed_name", "method", "signed_at"]
    list_filter = ["meaning", "method", "subject_type"]
    search_fields = ["subject_key", "printed_name"]


@admin.register(SigningPin)
class SigningPinAdmin(ReadOnlyAdmin):
    list_display = ["user", "set_at"]  # the hash is never shown
    fields = ["user", "set_at"]


@admin.register(SigningGuard)
class SigningGuardAdmin(ReadOnlyAdmin):
    list_display = ["user", "attempts", "window_started_at"]
