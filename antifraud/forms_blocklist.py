"""Block list forms: one entry (validated and normalised), the list's search."""

from __future__ import annotations

import ipaddress
import re
import uuid
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.translation import gettext_lazy as _

from antifraud.models import BlockEntry
from partners.models import PartnerProfile

BAD_IP = _("Enter an IP address (203.0.113.7) or a network (203.0.113.0/24, 2001:db8::/48).")
TOO_WIDE = _("This network is too wide: at most /8 for IPv4 and /32 for IPv6.")
NOT_PUBLIC = _("This address is not on the public internet: it would block nobody or everyone.")
BAD_EMAIL = _("Enter an e-mail address.")
BAD_DOMAIN = _("Enter an e-mail domain, like mailinator.com.")
NO_PARTNER = _("Choose one of your partners.")
ALREADY = _("This is already on the block list.")

_DOMAIN_RE = re.compile(r"^(?=.{4,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}$")
MIN_PREFIX = {4: 8, 6: 32}


def normalise_ip(raw: str) -> str:
    """One address as written canonically (``2001:db8::1``), a network with its host
    bits cleared (``203.0.113.9/24`` → ``203.0.113.0/24``)."""
    text = raw.strip()
    try:
        if "/" in text:
            network = ipaddress.ip_network(text, strict=False)
            if network.prefixlen < MIN_PREFIX[network.version]:
                raise ValidationError(TOO_WIDE, code="too_wide")
            if network.num_addresses == 1:
                return str(network.network_address)
            return network.with_prefixlen
        address = ipaddress.ip_address(text)
    except ValueError:
        raise ValidationError(BAD_IP, code="bad_ip") from None
    if address.is_unspecified or address.is_multicast:
        raise ValidationError(NOT_PUBLIC, code="not_public")
    return str(address)


def normalise_email(raw: str) -> str:
    value = raw.strip().lower()
    try:
        validate_email(value)
    except ValidationError:
        raise ValidationError(BAD_EMAIL, code="bad_email") from None
    return value


def normalise_domain(raw: str) -> str:
    value = raw.strip().lower().lstrip("@").rstrip(".")
    try:
        value = value.encode("idna").decode("ascii")
    except UnicodeError:
        raise ValidationError(BAD_DOMAIN, code="bad_domain") from None
    if not _DOMAIN_RE.match(value):
        raise ValidationError(BAD_DOMAIN, code="bad_domain")
    return value


class BlockEntryForm(forms.Form):
    kind = forms.ChoiceField(label=_("Kind"), choices=BlockEntry.Kind.choices)
    value = forms.CharField(label=_("Value"), max_length=254)
    note = forms.CharField(label=_("Note"), max_length=200, required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        kind, value = data.get("kind"), data.get("value")
        if not kind or value is None:
            return data
        try:
            if kind == BlockEntry.Kind.IP:
                data["value"] = normalise_ip(value)
            elif kind == BlockEntry.Kind.EMAIL:
                data["value"] = normalise_email(value)
            elif kind == BlockEntry.Kind.DOMAIN:
                data["value"] = normalise_domain(value)
            else:
                try:
                    partner_id = uuid.UUID(value.strip())
                except ValueError:
                    raise ValidationError(NO_PARTNER, code="no_partner") from None
                partner = PartnerProfile.objects.filter(pk=partner_id).first()
                if partner is None:
                    raise ValidationError(NO_PARTNER, code="no_partner")
                data["value"] = str(partner.pk)
                data["partner"] = partner
        except ValidationError as exc:
            self.add_error("value", exc)
        else:
            if BlockEntry.objects.filter(kind=kind, value=data["value"]).exists():
                self.add_error("value", ALREADY)
        return data


class BlockFilterForm(forms.Form):
    kind = forms.ChoiceField(
        label=_("Kind"), required=False, choices=[("", _("Any"))] + list(BlockEntry.Kind.choices)
    )
    q = forms.CharField(label=_("Search"), required=False, max_length=100)
    partner_q = forms.CharField(label=_("Find a partner"), required=False, max_length=100)

    def clean_q(self) -> str:
        return self.cleaned_data["q"].replace("\x00", "").strip()

    def clean_partner_q(self) -> str:
        return self.cleaned_data["partner_q"].replace("\x00", "").strip()
