"""Where a form sends people back to: the ``next`` value, only when it stays on this site.

Every view that reads ``next`` goes through ``next_or``: an absolute URL to another host
(``https://evil.example/``), a scheme-relative one (``//evil.example``), or a path
outside the page's own section falls back to the given URL (an open redirect would let a
link on our host send people to a look-alike sign-in page)."""

from __future__ import annotations

from django.http import HttpRequest
from django.utils.http import url_has_allowed_host_and_scheme


def next_or(request: HttpRequest, fallback: str, *, within: str = "/") -> str:
    """The request's ``next`` (POST, then GET) if it is a path on this host starting with
    ``within``; ``fallback`` otherwise."""
    value = request.POST.get("next") or request.GET.get("next") or ""
    if (
        value.startswith(within)
        and not value.startswith("//")
        and url_has_allowed_host_and_scheme(
            value, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        )
    ):
        return value
    return fallback
