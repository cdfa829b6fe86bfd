from __future__ import annotations

from tests.antifraud.helpers import codes, lead, sale


def test_a_plus_tag_gmail_address_is_the_same_customer(program, alice):
    lead(program, alice, email="Jane.Doe@gmail.com")
    again = lead(program, alice, email="janedoe+2@googlemail.com")
    assert again.duplicate_of_id is None  # a different address to the old rules
    assert "repeat_customer" in codes(again)


def test_another_person_at_the_same_domain_is_not(program, alice):
    lead(program, alice, email="jane@gmail.com")
    other = lead(program, alice, email="john@gmail.com")
    assert "repeat_customer" not in codes(other)


def test_a_returning_buyer_under_the_same_address_is_not_flagged(program, alice):
    sale(program, alice, email="buyer@example.com")
    again = sale(program, alice, email="buyer@example.com")
    assert "repeat_customer" not in codes(again)
    alias = sale(program, alice, email="buyer+x@example.com")
    assert "repeat_customer" in codes(alias)


def test_the_same_visitor_cookie_under_a_new_address(program, alice):
    lead(program, alice, email="one@example.com", visitor="visitor-000001")
    second = lead(program, alice, email="two@example.com", visitor="visitor-000001")
    assert "repeat_customer" in codes(second)
