from __future__ import annotations

from typing import Any

from django import template
from django.utils.safestring import mark_safe

from partners.news.sanitize import clean_html, plain_text
from partners.news.selectors import unread_count

register = template.Library()


@register.simple_tag
def news_unread(partner: Any) -> int:
    """The cabinet menu's unread-news count (one query, capped)."""
    return unread_count(partner)


@register.filter
def news_html(body: str) -> str:
    """A post's body for the page: cleaned again as it is shown (it was when saved)."""
    return mark_safe(clean_html(body or ""))  # noqa: S308 - nh3's output


@register.filter
def news_excerpt(body: str, limit: int = 280) -> str:
    return plain_text(body or "", int(limit))
