"""All outbound HTTP goes through here: timeouts, a user agent, and a guard against
requests to private addresses (SSRF) unless PRM_HTTP_ALLOW_PRIVATE says otherwise."""

from __future__ import annotations

import ipaddress
import socket
from typing import Any
from urllib.parse import urlsplit

import httpx
from django.conf import settings

DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=5.0)
USER_AGENT = "PRM/1 (+https://github.com/prm)"


class BlockedAddress(Exception):
    """The URL points at a private, loopback or link-local address."""


def _check_host(url: str) -> None:
    if settings.PRM_HTTP_ALLOW_PRIVATE:
        return
    host = urlsplit(url).hostname or ""
    try:
        infos = socket.getaddrinfo(host, None)
    except socket.gaierror as exc:
        raise httpx.ConnectError(f"cannot resolve {host}") from exc
    for info in infos:
        addr = ipaddress.ip_address(info[4][0])
        if not addr.is_global:
            raise BlockedAddress(f"{host} resolves to a non-public address")


def request(
    method: str,
    url: str,
    *,
    headers: dict[str, str] | None = None,
    timeout: httpx.Timeout | float | None = None,
    **kwargs: Any,
) -> httpx.Response:
    _check_host(url)
    merged = {"User-Agent": USER_AGENT, **(headers or {})}
    with httpx.Client(timeout=timeout or DEFAULT_TIMEOUT, follow_redirects=False) as client:
        return client.request(method, url, headers=merged, **kwargs)
