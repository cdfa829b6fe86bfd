"""Customer contact details in one canonical form, so duplicates are found."""

from __future__ import annotations

import phonenumbers
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.translation import gettext_lazy as _

INVALID_EMAIL = _("Enter a valid e-mail address.")
INVALID_PHONE = _("Enter a valid phone number with its country code, e.g. +7 912 345-67-89.")

REGION_BY_LANGUAGE = {"ru": "RU"}


def normalize_email(value: str) -> str:
    value = (value or "").strip().lower()
    if not value:
        return ""
    try:
        validate_email(value)
    except ValidationError:
        raise ValidationError(INVALID_EMAIL, code="email") from None
    return value


def normalize_phone(value: str, *, language: str = "en") -> str:
    """E.164 (``+79123456789``); numbers without a country code are read in the
    tenant's country when its language implies one."""
    value = (value or "").strip()
    if not value:
        return ""
    try:
        number = phonenumbers.parse(value, REGION_BY_LANGUAGE.get(language))
    except phonenumbers.NumberParseException:
        raise ValidationError(INVALID_PHONE, code="phone") from None
    if not phonenumbers.is_valid_number(number):
        raise ValidationError(INVALID_PHONE, code="phone")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


# Mailboxes that ignore dots in the local part (and the domain's alias).
_DOTLESS = {"gmail.com"}
_ALIASES = {"googlemail.com": "gmail.com"}


def email_key(value: str) -> str:
    """The e-mail as a person is identified, to find the same customer again: lower
    case, ``+tags`` dropped (every domain), dots dropped at gmail, googlemail = gmail.
    Not an address to write to; '' for anything without a local part and a domain."""
    value = (value or "").strip().lower()
    local, at, domain = value.rpartition("@")
    if not at or not local or not domain:
        return ""
    domain = _ALIASES.get(domain, domain)
    local = local.split("+", 1)[0]
    if domain in _DOTLESS:
        local = local.replace(".", "")
    if not local:
        return ""
    return f"{local}@{domain}"[:254]
