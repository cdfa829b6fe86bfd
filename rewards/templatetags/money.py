"""``{{ value|money }}``: an amount with two decimals and the language's thousands
separator (1,234,567.89 in English, 1 234 567,89 in Russian), so a large correction or
payout cannot be misread by a digit."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django import template
from django.utils.formats import number_format

register = template.Library()


@register.filter
def money(value: Any) -> str:
    if value is None or value == "":
        return ""
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return str(value)
    return number_format(amount, decimal_pos=2, use_l10n=True, force_grouping=True)
