"""``{% export_url "console:leads_export" "csv" %}``: the list's export with the page's
own filters (its query string minus the page number)."""

from __future__ import annotations

from typing import Any

from django import template
from django.urls import reverse

register = template.Library()


def list_query(request: Any) -> Any:
    params = request.GET.copy()
    for key in ("page", "format"):
        params.pop(key, None)
    return params


@register.simple_tag(takes_context=True)
def export_url(context: Any, name: str, fmt: str, **kwargs: Any) -> str:
    params = list_query(context["request"])
    params["format"] = fmt
    return f"{reverse(name, kwargs=kwargs or None)}?{params.urlencode()}"


@register.simple_tag(takes_context=True)
def schedule_url(context: Any, source: str) -> str:
    from django.http import QueryDict

    query = QueryDict(mutable=True)
    query["source"] = source
    query["params"] = list_query(context["request"]).urlencode()
    return f"{reverse('console:scheduled_exports')}?{query.urlencode()}"
