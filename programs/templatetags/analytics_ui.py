"""Template filters of the analytics pages: figures, deltas, money per currency."""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from django import template
from django.utils.formats import number_format

register = template.Library()


@register.filter
def get(mapping: Any, key: Any) -> Any:
    try:
        return mapping.get(key) if hasattr(mapping, "get") else mapping[key]
    except (KeyError, IndexError, TypeError):
        return None


@register.filter
def figure(value: Any, unit: str = "") -> str:
    """A card's value: counts as integers, money and rates with decimals; — for none."""
    if value is None:
        return "—"
    if unit == "%":
        return f"{number_format(value, 1)} %"
    if isinstance(value, Decimal) or unit:
        return f"{number_format(value, 2, force_grouping=True)} {unit}".strip()
    return number_format(value, 0, force_grouping=True)


@register.filter
def delta_class(delta: Any) -> str:
    if delta is None:
        return "delta-none"
    return "delta-up" if delta > 0 else "delta-down" if delta < 0 else "delta-flat"


@register.filter
def money_sum(money: Any, field: str) -> list[tuple[str, Decimal]]:
    """[(currency, amount)] of one money field, non-zero only."""
    if not money:
        return []
    return [(cur, m[field]) for cur, m in sorted(money.items()) if m.get(field)]


@register.simple_tag
def drill(base: str, **params: Any) -> str:
    """A list URL with the filters that select the rows behind a figure."""
    query = {k: v for k, v in params.items() if v not in (None, "")}
    return f"{base}?{urlencode(query)}" if query else base


@register.simple_tag(takes_context=True)
def sort_link(context: Any, key: str) -> str:
    """The current query sorted by ``key``: largest first, flipped when it already is."""
    params = context["request"].GET.copy()
    current = params.get("sort", "")
    params["sort"] = key if current == f"-{key}" else f"-{key}"
    params.pop("page", None)
    return "?" + params.urlencode()


@register.filter
def urlencode_dict(params: Any) -> str:
    return urlencode(params or {})
