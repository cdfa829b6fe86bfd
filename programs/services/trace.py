"""Where a lead or conversion came from, in the form antifraud compares: the IP masked
under the tenant's privacy setting, its network (/24 or /64), a device key and the
identity e-mail key.

Only the customer's own request counts: the snippet's (the server reads the IP from
the request, behind ``PRM_TRUSTED_PROXIES``) and the client's server passing its
visitor's IP and user agent through the API. A partner registering a deal in the
cabinet, or staff adding one in the console, send *their* request, which says nothing
about the customer: those leads keep no IP (otherwise a partner's own deals would all
look like self-referral from their sign-in IP).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from ipaddress import ip_address, ip_network

from django.conf import settings

from prm.inputs import clean_text
from programs.services.clicks import mask_ip
from programs.services.normalize import email_key

INVALID_IP = "Enter a valid IPv4 or IPv6 address."


@dataclass(frozen=True)
class Trace:
    ip: str = ""
    net: str = ""
    device: str = ""
    user_agent: str = ""

    def fields(self) -> dict[str, str]:
        return {
            "ip": self.ip,
            "net": self.net,
            "device": self.device,
            "user_agent": self.user_agent,
        }


def _hash(value: str, purpose: str) -> str:
    key = f"{settings.SECRET_KEY}:antifraud:{purpose}".encode()
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()[:32]


def network_of(ip: str, mode: str) -> str:
    """The /24 (IPv4) or /64 (IPv6) the address is in, as CIDR text (hashed in hash
    mode); '' for anything that is not an address."""
    try:
        addr = ip_address(ip.strip())
    except ValueError:
        return ""
    net = str(ip_network(f"{addr}/{24 if addr.version == 4 else 64}", strict=False))
    return _hash(net, "net") if mode == "hash" else net


def device_key(ip: str, user_agent: str) -> str:
    """A salted HMAC of the full address and user agent: the same browser on the same
    connection, comparable but never reversible (the full IP is not stored)."""
    try:
        addr = ip_address(ip.strip())
    except ValueError:
        return ""
    return _hash(f"{addr}|{user_agent.strip()}", "device")


def capture(ip: str | None, user_agent: str | None, mode: str) -> Trace:
    """The trace of a customer's request (``ip``/``user_agent`` as received)."""
    ip = (ip or "").strip()
    ua = clean_text(user_agent or "", 300)
    if not ip:
        return Trace(user_agent=ua)
    return Trace(
        ip=mask_ip(ip, mode),
        net=network_of(ip, mode),
        device=device_key(ip, ua),
        user_agent=ua,
    )


def valid_ip(value: str) -> bool:
    try:
        ip_address(value.strip())
    except ValueError:
        return False
    return True


def payer_key(*, card_bin: str = "", card_last4: str = "", iban: str = "", wallet: str = "") -> str:
    """A payment instrument's fingerprint, comparable with a partner's payout details:
    ``card:`` BIN + last four, ``iban:`` the IBAN, ``wallet:`` an e-mail or wallet id,
    each as a salted hash. '' when nothing usable was given."""
    if card_bin and card_last4:
        return "card:" + _hash(f"{card_bin.strip()[:6]}{card_last4.strip()[-4:]}", "payer")
    if iban:
        return "iban:" + _hash("".join(iban.split()).upper(), "payer")
    if wallet:
        return "wallet:" + _hash(wallet.strip().lower(), "payer")
    return ""


__all__ = [
    "INVALID_IP",
    "Trace",
    "capture",
    "device_key",
    "email_key",
    "network_of",
    "payer_key",
    "valid_ip",
]
