"""The Portuguese catalog stays complete: every message the code, templates and scripts mark has its pt-BR
translation, placeholders intact, and the compiled .mo files (committed, so a fresh clone needs no gettext) say
what the .po files say."""

from __future__ import annotations

import re
from pathlib import Path

import polib
import pytest
from django.conf import settings

LOCALE = Path(settings.BASE_DIR) / "locale" / "pt_BR" / "LC_MESSAGES"
DOMAINS = ("django", "djangojs")
PLACEHOLDER = re.compile(r"%\([a-z_]+\)[sd]|%[sd]|%%")


def catalog(domain: str) -> polib.POFile:
    return polib.pofile(str(LOCALE / f"{domain}.po"))


def translations(entry: polib.POEntry) -> list[str]:
    return list(entry.msgstr_plural.values()) if entry.msgid_plural else [entry.msgstr]


@pytest.mark.parametrize("domain", DOMAINS)
def test_it_has_a_pt_br_translation_for_every_msgid(domain: str) -> None:
    po = catalog(domain)
    assert len(po) > 50
    untranslated = [e.msgid for e in po if e.obsolete is False and not all(t.strip() for t in translations(e))]
    fuzzy = [e.msgid for e in po if "fuzzy" in e.flags]
    assert not untranslated, f"{domain}.po: no pt-BR translation for {untranslated}"
    assert not fuzzy, f"{domain}.po: fuzzy (unchecked) translations {fuzzy}"


@pytest.mark.parametrize("domain", DOMAINS)
def test_it_keeps_every_placeholder_in_the_translation(domain: str) -> None:
    wrong = []
    for e in catalog(domain):
        expected = sorted(PLACEHOLDER.findall(e.msgid))
        for t in translations(e):
            if sorted(PLACEHOLDER.findall(t)) != expected and not (e.msgid_plural and "%(" in e.msgid):
                wrong.append((e.msgid, t))
    assert not wrong


@pytest.mark.parametrize("domain", DOMAINS)
def test_it_ships_compiled_catalogs_that_match_the_po_files(domain: str) -> None:
    mo = {(e.msgctxt, e.msgid): e for e in polib.mofile(str(LOCALE / f"{domain}.mo"))}
    stale = [
        e.msgid
        for e in catalog(domain)
        if (e.msgctxt, e.msgid) not in mo or translations(mo[(e.msgctxt, e.msgid)]) != translations(e)
    ]
    assert not stale, f"{domain}.mo is older than {domain}.po (run make messages): {stale[:5]}"


TEMPLATE_LITERAL = re.compile(r"""{%\s*translate\s+(["'])(.+?)\1(?:\s+context\s+(["'])(.+?)\3)?\s*%}""")
JS_LITERAL = re.compile(r"""\bgettext\("((?:[^"\\]|\\.)*)"\)""")


def msgids(domain: str) -> set[str]:
    return {e.msgid for e in catalog(domain)}


def test_it_has_every_translate_tag_of_the_templates_in_the_catalog() -> None:
    known = msgids("django")
    missing = []
    for path in sorted((Path(settings.BASE_DIR) / "templates").rglob("*.html")):
        for m in TEMPLATE_LITERAL.finditer(path.read_text()):
            # {% translate %} looks its literal up with % doubled (django.template.base.Variable), as makemessages
            # writes it: "95 % CI" is the msgid "95 %% CI".
            if m.group(2).replace("%", "%%") not in known:
                missing.append(f"{path.name}: {m.group(2)}")
    assert not missing, "not in django.po (run make messages and translate):\n" + "\n".join(missing)


def test_it_has_every_gettext_of_the_scripts_in_the_catalog() -> None:
    known = msgids("djangojs")
    missing = []
    scripts = [p for p in (Path(settings.BASE_DIR) / "static").rglob("*.js") if "vendor" not in p.parts]
    found = 0
    for path in sorted(scripts):
        for m in JS_LITERAL.finditer(path.read_text()):
            found += 1
            msgid = (
                m.group(1).encode().decode("unicode_escape").encode("latin-1").decode()
                if "\\" in m.group(1)
                else m.group(1)
            )
            if msgid not in known:
                missing.append(f"{path.name}: {msgid}")
    assert found > 50
    assert not missing, "not in djangojs.po (run make messages and translate):\n" + "\n".join(missing)
