"""A user's own settings. Only the language so far: on a shop floor the tablet's browser is often set to whatever
its vendor shipped, so the operator's language is theirs, not the device's."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from accounts.choices import Language


class UserPreference(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="preference", verbose_name=_("user")
    )
    language = models.CharField(_("language"), max_length=8, choices=Language.choices, blank=True, default="")

    class Meta:
        verbose_name = _("user preference")
        verbose_name_plural = _("user preferences")

    def __str__(self) -> str:
        return f"{self.user} · {self.language or 'browser'}"
