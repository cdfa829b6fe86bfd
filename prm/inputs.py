"""Cleaning what reaches us from outside, at the edge, before it can reach PostgreSQL.

PostgreSQL refuses NUL in text and psycopg refuses lone surrogates (they cannot be
encoded as UTF-8); either would turn a request into a 500, or, worse, poison a batch
written later (the click flush). So every text from outside goes through ``clean_text``
once, where it enters: ``CleanInputMiddleware`` does it for the query string, form
posts, headers and URL parameters of every request; JSON bodies are read with
``parse_json``, which also bounds the nesting depth (CPython's parser raises
RecursionError on a thousand levels, and our own walks would too).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from itertools import accumulate
from typing import Any

from django.http import HttpRequest, HttpResponse, QueryDict

MAX_TEXT = 65_536  # a generous cap for any single value; fields cap lower themselves
MAX_DEPTH = 32
_SURROGATES = re.compile("[\ud800-\udfff]")
# Possessive and with an optional closing quote: linear on any input, unterminated too.
_STRINGS = re.compile(r'"(?:[^"\\]++|\\.)*+"?', re.DOTALL)
_BRACKETS = re.compile(r"[^\[\]{}]")
_STEP = str.maketrans({"[": "\x01", "{": "\x01", "]": "\x02", "}": "\x02"})


class InputError(ValueError):
    """Bad input from outside; ``status`` is the 4xx to answer with."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def clean_text(value: str, limit: int = MAX_TEXT) -> str:
    """NUL removed, lone surrogates replaced by U+FFFD, at most ``limit`` characters."""
    if "\x00" in value:
        value = value.replace("\x00", "")
    if not value.isascii():
        value = _SURROGATES.sub("\ufffd", value)
    return value[:limit]


def clean_value(value: Any, limit: int = MAX_TEXT) -> Any:
    """``clean_text`` on every string (keys too) of a parsed JSON value.

    Recursive, but only ever called on values whose depth ``parse_json`` bounded.
    """
    if isinstance(value, str):
        return clean_text(value, limit)
    if isinstance(value, dict):
        return {clean_text(str(k), limit): clean_value(v, limit) for k, v in value.items()}
    if isinstance(value, list):
        return [clean_value(v, limit) for v in value]
    return value


def json_depth(text: str) -> int:
    """The deepest bracket nesting of a JSON text, without recursion (strings skipped)."""
    if text.count("[") + text.count("{") <= 1:
        return text.count("[") + text.count("{")
    brackets = _BRACKETS.sub("", _STRINGS.sub("", text))
    if not brackets:
        return 0
    steps = brackets.translate(_STEP).encode()
    return max(accumulate(1 if step == 1 else -1 for step in steps))


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_json(
    body: bytes | str, *, max_depth: int = MAX_DEPTH, max_bytes: int | None = None
) -> Any:
    """Parse a JSON body from outside, cleaned; InputError (a 4xx) when it is not JSON,
    too deep or too large. Never RecursionError."""
    if max_bytes is not None and len(body) > max_bytes:
        raise InputError("body too large", 413)
    if isinstance(body, bytes):
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise InputError("body is not UTF-8 JSON") from None
    else:
        text = body
    if json_depth(text) > max_depth:
        raise InputError(f"JSON nested deeper than {max_depth} levels")
    try:
        data = json.loads(text, parse_constant=_no_constant)
    except (ValueError, RecursionError):
        raise InputError("body is not JSON") from None
    return clean_value(data)


def _clean_querydict(query: QueryDict) -> QueryDict:
    cleaned = QueryDict(mutable=True, encoding=query.encoding)
    for key, values in query.lists():
        cleaned.setlist(clean_text(key, 1024), [clean_text(v) for v in values])
    cleaned._mutable = False
    return cleaned


def _needs_cleaning(query: QueryDict) -> bool:
    return any(
        not (key.isascii() and "\x00" not in key and len(key) <= 1024)
        or any(not (v.isascii() and "\x00" not in v and len(v) <= MAX_TEXT) for v in values)
        for key, values in query.lists()
    )


def clean_request(request: HttpRequest) -> None:
    """Clean the query string, a url-encoded form body and the HTTP headers in place.

    Multipart bodies are left to the forms (Django's CharField refuses NUL, and the
    multipart parser already replaces bad UTF-8): reading them here would use up the
    stream of an upload.
    """
    for name, value in list(request.META.items()):
        if name.startswith("HTTP_") and isinstance(value, str):
            request.META[name] = clean_text(value, 8192)
    if _needs_cleaning(request.GET):
        request.GET = _clean_querydict(request.GET)
    form = request.content_type == "application/x-www-form-urlencoded"
    if request.method == "POST" and form and _needs_cleaning(request.POST):
        request.POST = _clean_querydict(request.POST)


class CleanInputMiddleware:
    """Every request's query, form body and headers cleaned before any view sees them;
    URL parameters cleaned before the view is called."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        clean_request(request)
        return self.get_response(request)

    def process_view(
        self,
        request: HttpRequest,
        view_func: Callable[..., Any],
        view_args: tuple[Any, ...],
        view_kwargs: dict[str, Any],
    ) -> None:
        for name, value in view_kwargs.items():
            if isinstance(value, str):
                view_kwargs[name] = clean_text(value, 1024)
        return None
