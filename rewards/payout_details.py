"""A partner's payout account, per method kind: validated, normalised and masked.

``clean_details(kind, raw)`` returns the value to encrypt and store, and the masked
form shown back to people. The checks catch typing mistakes (checksums, lengths), not
whether the account exists: only the bank or the wallet can tell that.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.translation import gettext_lazy as _

from rewards.models.payouts import PayoutMethod

DOTS = "••••"

CARD_NOT_DIGITS = _("A card number has digits only.")
CARD_LENGTH = _("A card number has 12 to 19 digits.")
CARD_CHECKSUM = _("This card number has a typo: check the digits.")
IBAN_FORMAT = _(
    "Enter an IBAN: two letters for the country, two check digits, then the account number."
)
IBAN_LENGTH = _("An IBAN from %(country)s has %(length)d characters.")
IBAN_CHECKSUM = _("This IBAN has a typo: check the characters.")
YOOMONEY_FORMAT = _("A YooMoney wallet number starts with 4100 and has 11 to 20 digits.")
PAYPAL_EMAIL = _("Enter the e-mail address of your PayPal account.")
DETAILS_REQUIRED = _("Enter your payout details.")

# IBAN lengths from the SWIFT IBAN registry for the countries partners most often use;
# other countries get the general format and the checksum only.
IBAN_LENGTHS = {
    "AE": 23, "AT": 20, "BE": 16, "BG": 22, "BY": 28, "CH": 21, "CY": 28, "CZ": 24,
    "DE": 22, "DK": 18, "EE": 20, "ES": 24, "FI": 18, "FR": 27, "GB": 22, "GE": 22,
    "GR": 27, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IS": 26, "IT": 27, "KZ": 20,
    "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MT": 31, "NL": 18, "NO": 15, "PL": 28,
    "PT": 25, "RO": 24, "SA": 24, "SE": 24, "SI": 19, "SK": 24, "TR": 26, "UA": 29,
}  # fmt: skip
_IBAN_RE = re.compile(r"[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}")
_SEPARATORS_RE = re.compile(r"[\s-]+")


def luhn_ok(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        n = int(char)
        if position % 2 == 1:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return total % 10 == 0


def iban_ok(iban: str) -> bool:
    """ISO 13616 check: country and check digits moved to the end, letters as 10..35."""
    rearranged = iban[4:] + iban[:4]
    return int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1


def _card(raw: str) -> tuple[str, str]:
    number = _SEPARATORS_RE.sub("", raw)
    if not number.isascii() or not number.isdigit():
        raise ValidationError(CARD_NOT_DIGITS, code="card_digits")
    if not 12 <= len(number) <= 19:
        raise ValidationError(CARD_LENGTH, code="card_length")
    if not luhn_ok(number):
        raise ValidationError(CARD_CHECKSUM, code="card_checksum")
    return number, f"{DOTS} {number[-4:]}"


def _iban(raw: str) -> tuple[str, str]:
    iban = re.sub(r"\s+", "", raw).upper()
    if not iban.isascii() or not _IBAN_RE.fullmatch(iban):
        raise ValidationError(IBAN_FORMAT, code="iban_format")
    country = iban[:2]
    expected = IBAN_LENGTHS.get(country)
    if expected is not None and len(iban) != expected:
        raise ValidationError(
            IBAN_LENGTH, code="iban_length", params={"country": country, "length": expected}
        )
    if not iban_ok(iban):
        raise ValidationError(IBAN_CHECKSUM, code="iban_checksum")
    return iban, f"{iban[:4]} {DOTS} {iban[-4:]}"


def _yoomoney(raw: str) -> tuple[str, str]:
    wallet = _SEPARATORS_RE.sub("", raw)
    if (
        not wallet.isascii()
        or not wallet.isdigit()
        or not wallet.startswith("4100")
        or not 11 <= len(wallet) <= 20
    ):
        raise ValidationError(YOOMONEY_FORMAT, code="yoomoney_format")
    return wallet, f"{wallet[:4]} {DOTS} {wallet[-4:]}"


def _paypal(raw: str) -> tuple[str, str]:
    email = raw.strip().lower()
    try:
        validate_email(email)
    except ValidationError as exc:
        raise ValidationError(PAYPAL_EMAIL, code="paypal_email") from exc
    local, _at, domain = email.rpartition("@")
    return email, f"{local[0]}•••@{domain}"


_CLEANERS: dict[str, Callable[[str], tuple[str, str]]] = {
    PayoutMethod.Kind.CARD: _card,
    PayoutMethod.Kind.BANK: _iban,
    PayoutMethod.Kind.YOOMONEY: _yoomoney,
    PayoutMethod.Kind.PAYPAL: _paypal,
}


def clean_details(kind: str, raw: str) -> tuple[str, str]:
    """(normalised value, masked value) for a method kind, or ValidationError.

    An unknown kind is a programming error and raises ValueError.
    """
    try:
        cleaner = _CLEANERS[kind]
    except KeyError:
        raise ValueError(f"unknown payout method kind {kind!r}") from None
    if not raw or not raw.strip():
        raise ValidationError(DETAILS_REQUIRED, code="required")
    return cleaner(raw)
