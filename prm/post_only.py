"""``post_only``: require_POST for form actions, minus the blank 405 on reload.

A form action re-renders its form at its own URL on a validation error, so a person
can be left with a POST-only URL in the address bar; reloading it (a GET) must not
answer a blank 405. The form lives on the action's nearest ancestor page (``/team/
invite/`` on ``/team/``, ``/programs/<id>/pause/`` on ``/programs/<id>/``), so a GET or
HEAD is redirected there (PRG). Other methods still get 405.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.urls import Resolver404, resolve

View = Callable[..., HttpResponse]


def form_page(request: HttpRequest) -> str:
    """The nearest ancestor path of the request's that a GET can be answered on."""
    urlconf = getattr(request, "urlconf", None)
    parts = [p for p in request.path_info.split("/") if p]
    while parts:
        parts.pop()
        base = "/" + "/".join(parts)
        for candidate in (base.rstrip("/") + "/", base) if parts else ("/",):
            try:
                match = resolve(candidate, urlconf=urlconf)
            except Resolver404:
                continue
            if not getattr(match.func, "post_only", False):
                return request.META.get("SCRIPT_NAME", "") + candidate
    return "/"


def post_only(view: View) -> View:
    """Like ``require_POST``, but a GET/HEAD goes to the page the form lives on."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.method in ("GET", "HEAD"):
            return HttpResponseRedirect(form_page(request))
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        return view(request, *args, **kwargs)

    wrapper.post_only = True  # type: ignore[attr-defined]
    return wrapper
