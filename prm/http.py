"""All outbound HTTP goes through here: timeouts, a user agent, no redirects, and a guard
against requests to private addresses (SSRF).

The guard runs where the connection is made, not before it: a network backend resolves
the host name once, checks every address it got, and connects to one of those checked
addresses. Checking first and letting the connection resolve again would let a name
that answers a public address to the check and 127.0.0.1 to the connection (DNS
rebinding) reach loopback. The URL keeps its host name, so the Host header, TLS SNI and
certificate verification are still about the name, not the IP.

``PRM_HTTP_ALLOW_PRIVATE`` (tests and the demo talk to fakes on 127.0.0.1) skips only the
address check; resolution and pinning run the same way, so tests exercise them.
"""

from __future__ import annotations

import functools
import ipaddress
import socket
import ssl
from collections.abc import Iterable
from typing import Any

import httpcore
import httpx
from django.conf import settings
from django.utils.translation import gettext as _

DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=5.0)
USER_AGENT = "PRM/1 (+https://github.com/prm)"

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class BlockedAddress(Exception):
    """The host resolves to an address outbound calls may not reach (private, loopback,
    link-local, multicast, documentation, or a v6 address that embeds one)."""


class UnresolvableHost(httpx.ConnectError):
    """The host name does not resolve. A ConnectError, so callers that already treat
    network failures as "try again later" keep doing so."""


# Ranges refused on top of what ``is_global`` says: Python 3.11's tables predate some of
# them, and some are "global" only in the sense that they are not private.
_REFUSED_V6 = tuple(
    ipaddress.IPv6Network(n)
    for n in (
        "::/96",  # IPv4-compatible (deprecated) and :: itself
        "64:ff9b:1::/48",  # NAT64 for local use (RFC 8215)
        "2001::/32",  # Teredo: the tunnel reaches an IPv4 host we cannot check
        "2001:2::/48",  # benchmarking
        "2001:db8::/32",  # documentation
        "3fff::/20",  # documentation (RFC 9637)
        "5f00::/16",  # SRv6 SIDs
        "fc00::/7",  # unique local
        "fe80::/10",  # link-local
        "fec0::/10",  # site-local (deprecated)
        "ff00::/8",  # multicast
    )
)
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def _embedded_v4(addr: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses a v6 address carries (mapped, compatible, NAT64, 6to4, Teredo)."""
    found: list[ipaddress.IPv4Address] = []
    if addr.ipv4_mapped is not None:
        found.append(addr.ipv4_mapped)
    low32 = ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF)
    if int(addr) >> 32 == 0 or addr in _NAT64:
        found.append(low32)
    if addr.sixtofour is not None:
        found.append(addr.sixtofour)
    if addr.teredo is not None:
        found.extend(addr.teredo)
    return found


def address_allowed(addr: IPAddress) -> bool:
    """Whether outbound calls may connect to ``addr`` (a public unicast address)."""
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return address_allowed(addr.ipv4_mapped)  # the socket talks IPv4 to it
    if isinstance(addr, ipaddress.IPv6Address) and addr in _NAT64:
        # The NAT64 gateway forwards to the embedded IPv4 address: judge that one.
        return address_allowed(ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF))
    if addr.is_multicast or addr.is_unspecified or addr.is_reserved:
        return False
    if addr.is_loopback or addr.is_link_local or addr.is_private or not addr.is_global:
        return False
    if isinstance(addr, ipaddress.IPv6Address):
        if any(addr in net for net in _REFUSED_V6):
            return False
        return all(address_allowed(v4) for v4 in _embedded_v4(addr))
    return True


def resolve(host: str, port: int) -> list[str]:
    """Resolve ``host`` once; every address must be allowed (unless private addresses
    are allowed by setting), else BlockedAddress. Returns the addresses to connect to."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnresolvableHost(f"cannot resolve {host}") from exc
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not addresses:
        raise UnresolvableHost(f"cannot resolve {host}")
    if not settings.PRM_HTTP_ALLOW_PRIVATE:
        for address in addresses:
            # A scoped v6 address ("fe80::1%eth0") is link-local anyway.
            if not address_allowed(ipaddress.ip_address(address.split("%")[0])):
                raise BlockedAddress(f"{host} resolves to a non-public address")
    return addresses


def address_problem(url: str) -> str | None:
    """Why outbound calls cannot reach ``url``'s host (blocked or unresolvable), as a
    message for a form; None when it can (or the URL has no host: the form's own
    validation says so). The connection checks again: this is for a clear answer."""
    try:
        parts = httpx.URL(url)
    except (httpx.InvalidURL, TypeError):
        return None
    if not parts.host:
        return None
    try:
        resolve(parts.host, parts.port or (443 if parts.scheme == "https" else 80))
    except BlockedAddress:
        return _(
            "%(host)s resolves to a private or reserved address; "
            "only public addresses can be called."
        ) % {"host": parts.host}
    except UnresolvableHost:
        return _("%(host)s cannot be found: check the address.") % {"host": parts.host}
    return None


class PinnedBackend(httpcore.SyncBackend):
    """Connects to the addresses ``resolve`` checked, never to a second resolution."""

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        error: Exception | None = None
        for address in resolve(host, port):
            try:
                return super().connect_tcp(
                    address,
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except httpcore.ConnectError as exc:  # try the next checked address
                error = exc
        assert error is not None
        raise error


@functools.lru_cache(maxsize=1)
def _ssl_context() -> ssl.SSLContext:
    """Certificate verification against certifi's roots; loading them costs a few ms,
    so one context serves every client (SSLContext is safe to share)."""
    return httpx.create_ssl_context(trust_env=False)


class PinnedTransport(httpx.HTTPTransport):
    """httpx's transport with the pool's network backend replaced by PinnedBackend."""

    def __init__(self) -> None:
        # Not super().__init__(): it would build a pool and an SSL context to throw away;
        # the pool is all HTTPTransport keeps.
        self._pool = httpcore.ConnectionPool(
            ssl_context=_ssl_context(),
            max_connections=100,
            max_keepalive_connections=20,
            keepalive_expiry=5.0,
            network_backend=PinnedBackend(),
        )


def client(
    *, timeout: httpx.Timeout | float | None = None, headers: dict[str, str] | None = None
) -> httpx.Client:
    """An httpx client whose connections are guarded and pinned; proxies from the
    environment are ignored (they would connect on our behalf, unchecked)."""
    return httpx.Client(
        transport=PinnedTransport(),
        timeout=timeout or DEFAULT_TIMEOUT,
        headers={"User-Agent": USER_AGENT, **(headers or {})},
        follow_redirects=False,
        trust_env=False,
    )


def request(
    method: str,
    url: str,
    *,
    headers: dict[str, str] | None = None,
    timeout: httpx.Timeout | float | None = None,
    **kwargs: Any,
) -> httpx.Response:
    merged = {"User-Agent": USER_AGENT, **(headers or {})}
    with client(timeout=timeout) as http:
        return http.request(method, url, headers=merged, **kwargs)
