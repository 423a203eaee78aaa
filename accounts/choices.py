from django.db import models
from django.utils.translation import gettext_lazy as _


class Language(models.TextChoices):
    """The languages the product is translated into (settings.LANGUAGES); blank: follow the browser."""

    BROWSER = "", _("As my browser asks (Accept-Language)")
    ENGLISH = "en", "English"
    PORTUGUESE_BR = "pt-br", "Português (Brasil)"
