"""The tenant's block list: an IP address or network, an e-mail address, an e-mail
domain, or a partner.

IPs are compared with what is stored: under "truncate" a blocked address or network
matches the /24 (or /64) it overlaps (a single blocked address flags its /24); under
"hash" only single addresses can match (their salted hash), networks cannot.
"""

from __future__ import annotations

from ipaddress import ip_address, ip_network
from typing import Any

from django.utils.translation import gettext_lazy as _

from antifraud.signals._query import email_of
from antifraud.signals.base import Batch, Hit, batch_signal
from programs.services.normalize import email_key


def _entries(batch: Batch) -> dict[str, list[str]]:
    if "blocklist" not in batch.cache:
        from antifraud.models import BlockEntry

        found: dict[str, list[str]] = {}
        for kind, value in BlockEntry.objects.values_list("kind", "value"):
            found.setdefault(kind, []).append(value)
        batch.cache["blocklist"] = found
    return batch.cache["blocklist"]


def _ip_matches(entries: list[str], obj: Any, mode: str) -> str:
    from programs.services.clicks import mask_ip

    if not obj.ip:
        return ""
    for value in entries:
        try:
            network = ip_network(value, strict=False)
        except ValueError:
            continue
        if mode == "hash":
            single = network.num_addresses == 1
            if single and mask_ip(str(network.network_address), "hash") == obj.ip:
                return value
            continue
        try:
            stored = ip_network(obj.net or obj.ip, strict=False)
        except ValueError:
            try:
                stored = ip_network(ip_address(obj.ip))
            except ValueError:
                continue
        if stored.version == network.version and stored.overlaps(network):
            return value
    return ""


def _many(batch: Batch, conf: dict[str, Any]) -> dict[Any, Hit]:
    entries = _entries(batch)
    if not entries:
        return {}
    mode = getattr(batch.tenant, "click_ip_mode", "truncate")
    emails = {email_key(e) for e in entries.get("email", [])} | set(entries.get("email", []))
    domains = {d.lower().lstrip("@") for d in entries.get("domain", [])}
    partners = set(entries.get("partner", []))
    out = {}
    for obj in batch.objs:
        partner_id = obj.pk if batch.subject == "partner" else obj.partner_id
        email = email_of(obj).lower()
        domain = email.rpartition("@")[2]
        found = ("", "")
        if partner_id and str(partner_id) in partners:
            found = ("partner", str(partner_id))
        elif email and (email in emails or email_key(email) in emails):
            found = ("email", email)
        elif domain and any(domain == d or domain.endswith("." + d) for d in domains):
            found = ("domain", domain)
        elif batch.subject != "partner" and entries.get("ip"):
            matched = _ip_matches(entries["ip"], obj, mode)
            if matched:
                found = ("ip", matched)
        if found[0]:
            out[obj.pk] = Hit(
                points=int(conf["weight"]),
                params={"kind": found[0]},
                evidence={"value": found[1], "kind": found[0]},
                match_key=f"{found[0]}:{found[1]}"[:128],
            )
    return out


BLOCKLIST = batch_signal(
    code="blocklist",
    title=_("On the block list"),
    explanation=_("Matches the workspace's block list (%(kind)s)."),
    partner_reason=_("Not accepted under the program's terms."),
    subjects=("lead", "conversion", "partner"),
    defaults={"enabled": True, "weight": 100, "threshold": 1, "window_minutes": 0},
    many=_many,
)
