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
