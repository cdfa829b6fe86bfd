from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from rewards import payout_details as pd
from rewards.payout_details import clean_details


def rejects(kind: str, raw: str) -> ValidationError:
    with pytest.raises(ValidationError) as exc:
        clean_details(kind, raw)
    return exc.value


@pytest.mark.parametrize(
    ("raw", "number", "masked"),
    [
        ("4242 4242 4242 4242", "4242424242424242", "•••• 4242"),
        ("4111-1111-1111-1111", "4111111111111111", "•••• 1111"),
        ("3782 822463 10005", "378282246310005", "•••• 0005"),
    ],
)
def test_it_accepts_a_card_number_and_masks_all_but_the_last_four(raw, number, masked):
    assert clean_details("card", raw) == (number, masked)


def test_it_rejects_a_card_number_with_a_typo():
    error = rejects("card", "4242 4242 4242 4241")
    assert error.code == "card_checksum"
    assert error.messages == [str(pd.CARD_CHECKSUM)]


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("4242 4242", "card_length"),
        ("4242" * 5, "card_length"),
        ("4242 4242 4242 424x", "card_digits"),
    ],
)
def test_it_rejects_a_card_number_of_the_wrong_shape(raw, code):
    assert rejects("card", raw).code == code


@pytest.mark.parametrize(
    ("raw", "iban", "masked"),
    [
        ("DE89 3704 0044 0532 0130 00", "DE89370400440532013000", "DE89 •••• 3000"),
        ("gb82 west 1234 5698 7654 32", "GB82WEST12345698765432", "GB82 •••• 5432"),
        ("FR14 2004 1010 0505 0001 3M02 606", "FR1420041010050500013M02606", "FR14 •••• 2606"),
        ("NL91ABNA0417164300", "NL91ABNA0417164300", "NL91 •••• 4300"),
        # Moldova is not in the length table: format and checksum only.
        ("MD24 AG00 0225 1000 1310 4168", "MD24AG000225100013104168", "MD24 •••• 4168"),
    ],
)
def test_it_accepts_an_iban_in_compact_upper_case(raw, iban, masked):
    assert clean_details("bank", raw) == (iban, masked)


def test_it_rejects_an_iban_with_an_altered_digit():
    error = rejects("bank", "DE89 3704 0044 0532 0130 01")
    assert error.code == "iban_checksum"
    assert error.messages == [str(pd.IBAN_CHECKSUM)]


def test_it_tells_the_length_an_iban_of_that_country_has():
    error = rejects("bank", "DE89 3704 0044 0532 0130 0")
    assert error.code == "iban_length"
    assert error.messages == ["An IBAN from DE has 22 characters."]


@pytest.mark.parametrize(
    "raw", ["1234", "DE89", "89DE 3704 0044 0532 0130 00", "DE89 3704 0044 0532-0130 00"]
)
def test_it_rejects_what_is_not_an_iban(raw):
    assert rejects("bank", raw).code == "iban_format"


def test_it_accepts_a_yoomoney_wallet():
    assert clean_details("yoomoney", " 4100 1234 5678 9012 ") == (
        "4100123456789012",
        "4100 •••• 9012",
    )


@pytest.mark.parametrize(
    "raw", ["41001", "5100 1234 5678 9012", "4100 1234 5678 9012 3456 7", "4100 12345 678x"]
)
def test_it_rejects_what_is_not_a_yoomoney_wallet(raw):
    error = rejects("yoomoney", raw)
    assert error.code == "yoomoney_format"
    assert error.messages == [str(pd.YOOMONEY_FORMAT)]


def test_it_lower_cases_a_paypal_address_and_masks_the_name():
    assert clean_details("paypal", "  Anna.Partner@Example.COM ") == (
        "anna.partner@example.com",
        "a•••@example.com",
    )


@pytest.mark.parametrize("raw", ["anna", "anna@", "@example.com", "anna partner@example.com"])
def test_it_rejects_what_is_not_an_email_for_paypal(raw):
    assert rejects("paypal", raw).messages == [str(pd.PAYPAL_EMAIL)]


@pytest.mark.parametrize("kind", ["card", "bank", "yoomoney", "paypal"])
def test_it_asks_for_details_when_given_none(kind):
    assert rejects(kind, "   ").code == "required"


def test_an_unknown_kind_is_a_programming_error():
    with pytest.raises(ValueError, match="crypto"):
        clean_details("crypto", "x")
