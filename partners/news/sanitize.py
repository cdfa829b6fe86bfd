"""The HTML of news posts, cleaned by nh3 (the Ammonia sanitiser) on the way in.

Only a small set of text tags is kept; everything else is dropped with its attributes
(``<script>`` and ``<style>`` with their content). Links keep ``href`` only for http,
https and mailto, and get ``rel="noopener noreferrer nofollow"``; images in the text are
not allowed (a post's picture is its uploaded image, checked by prm.images).
"""

from __future__ import annotations

import html as htmllib
import re

import nh3
from django.utils.html import strip_tags

TAGS = {
    "p",
    "br",
    "strong",
    "b",
    "em",
    "i",
    "u",
    "s",
    "a",
    "ul",
    "ol",
    "li",
    "h2",
    "h3",
    "h4",
    "blockquote",
    "code",
    "pre",
    "hr",
}
ATTRIBUTES = {"a": {"href", "title"}}
URL_SCHEMES = {"http", "https", "mailto"}


def clean_html(html: str) -> str:
    """``html`` with only the allowed tags, attributes and link schemes left."""
    return nh3.clean(
        html,
        tags=TAGS,
        attributes=ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    ).strip()


def has_text(html: str) -> bool:
    return bool(plain_text(html))


def plain_text(html: str, limit: int | None = None) -> str:
    """The text of ``html`` in one line (excerpts, e-mails); ``limit`` characters at most."""
    text = re.sub(r"\s+", " ", htmllib.unescape(strip_tags(html.replace("<", " <")))).strip()
    if limit is not None and len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text
