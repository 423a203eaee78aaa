"""The user's profile page: the language the pages speak to them."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import translation
from django.utils.translation import gettext as _

from accounts import actions
from accounts.forms import LanguageForm
from accounts.selectors import language_of
from accounts.sessions import remember_language


def profile(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        form = LanguageForm(request.POST)
        if form.is_valid():
            language = form.cleaned_data["language"]
            actions.set_language(request.user, language=language, actor=request.user)
            remember_language(request, language)
            translation.activate(language or translation.get_language_from_request(request))
            messages.success(request, _("Your language is saved."))
            return redirect("profile")
    else:
        form = LanguageForm(initial={"language": language_of(request.user)})
    return render(request, "accounts/profile.html", {"form": form})
