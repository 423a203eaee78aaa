"""SPC choices: chart kinds, sides, capability methods, run rules, and the words (and badge colours) of the
capability verdict."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from spc import stats


class ChartKind(models.TextChoices):
    IMR = stats.IMR, _("Individuals and moving range (I-MR)")
    XBAR_R = stats.XBAR_R, _("X̄ and R (subgroups)")
    XBAR_S = stats.XBAR_S, _("X̄ and S (subgroups)")


class Sides(models.TextChoices):
    TWO_SIDED = stats.TWO_SIDED, _("Two-sided (both tolerance limits)")
    UPPER_ONLY = stats.UPPER_ONLY, _("Upper limit only (e.g. runout, flatness: bounded at zero)")
    LOWER_ONLY = stats.LOWER_ONLY, _("Lower limit only")


class CapabilityMethod(models.TextChoices):
    NORMAL = stats.NORMAL, _("Normal distribution (σ within and overall)")
    # xgettext:no-python-format
    PERCENTILE = stats.PERCENTILE, _("Percentile method, ISO 22514-2 (0.135 % and 99.865 % of the fitted distribution)")


class RunRule(models.TextChoices):
    # The words of spc.stats.RULES (which knows no Django), marked for translation here.
    NELSON_1 = "nelson_1", _("1 point beyond 3σ (Nelson 1, Western Electric 1)")
    NELSON_2 = "nelson_2", _("9 points in a row on one side of the centre line (Nelson 2)")
    NELSON_3 = "nelson_3", _("6 points in a row steadily increasing or decreasing (Nelson 3)")
    NELSON_4 = "nelson_4", _("14 points in a row alternating up and down (Nelson 4)")
    NELSON_5 = "nelson_5", _("2 of 3 points beyond 2σ on one side (Nelson 5, Western Electric 2)")
    NELSON_6 = "nelson_6", _("4 of 5 points beyond 1σ on one side (Nelson 6, Western Electric 3)")
    NELSON_7 = "nelson_7", _("15 points in a row within 1σ (Nelson 7, stratification)")
    NELSON_8 = "nelson_8", _("8 points in a row beyond 1σ on either side (Nelson 8, mixture)")
    WE_4 = "we_4", _("8 points in a row on one side of the centre line (Western Electric 4)")
    DISPERSION_1 = "dispersion_1", _("1 point beyond the dispersion chart's limits (R, S or MR)")


SELECTABLE_RULES = [r for r in RunRule if r != RunRule.DISPERSION_1]


class ControlState(models.TextChoices):
    IN_CONTROL = "in_control", _("In statistical control")
    OUT_OF_CONTROL = "out_of_control", _("Not in statistical control")
    NO_DATA = "no_data", _("Not enough data")


class CapabilityVerdict(models.TextChoices):
    """The traffic light, in words first (colour is never the only signal)."""

    CAPABLE = "capable", _("Capable (Cpk ≥ 1.33)")
    MARGINAL = "marginal", _("Marginal (1.00 ≤ Cpk < 1.33)")
    NOT_CAPABLE = "not_capable", _("Not capable (Cpk < 1.00)")
    NOT_MEANINGFUL = "not_meaningful", _("Not meaningful: process not in control")
    NO_DATA = "no_data", _("Not enough data")

    @property
    def badge(self) -> str:
        return {
            "capable": "ok",
            "marginal": "warn",
            "not_capable": "bad",
            "not_meaningful": "neutral",
            "no_data": "neutral",
        }[self.value]


CAPABLE_CPK = 1.33
MARGINAL_CPK = 1.0
