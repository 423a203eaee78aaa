from django.apps import AppConfig


class ReviewConfig(AppConfig):
    name = "review"
    verbose_name = "Debug Mode (review)"

    def ready(self) -> None:
        # An override awaiting its countersignature in Debug Mode holds every other decision on the part,
        # whichever door it comes through (traceability knows no other app, so Debug Mode tells it).
        from review.selectors import override_awaiting_countersignature
        from traceability.actions import register_countersignature_check

        register_countersignature_check(override_awaiting_countersignature)
