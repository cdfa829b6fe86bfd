from __future__ import annotations

from antifraud.services.fingerprints import record_payout, record_sign_in
from programs.models import Lead
from programs.services.trace import payer_key
from tests.antifraud.helpers import codes, lead, sale


def test_it_fires_on_the_partners_own_email_even_written_differently(program, alice):
    from antifraud.services.fingerprints import record_identity

    record_identity(alice)  # alice@example.test
    own = lead(program, alice, email="Alice+deal@Example.test")
    assert "self_referral" in codes(own)


def test_it_fires_on_the_partners_sign_in_device(program, alice):
    record_sign_in(alice, ip="203.0.113.50", user_agent="Partner browser")
    own = sale(program, alice, ip="203.0.113.50", ua="Partner browser")
    assert "self_referral" in codes(own)


def test_it_fires_on_the_partners_payout_card(program, alice):
    record_payout(alice, method_kind="card", account="4111111111111111")
    own = sale(program, alice, payer=payer_key(card_bin="411111", card_last4="1111"))
    assert "self_referral" in codes(own)


def test_a_neighbour_on_the_same_network_scores_only_half(program, alice):
    from antifraud.models import RiskSignal

    record_sign_in(alice, ip="203.0.113.50", user_agent="Partner browser")
    neighbour = sale(program, alice, ip="203.0.113.51", ua="Another browser")
    assert "self_referral" in codes(neighbour)
    assert RiskSignal.objects.get(code="self_referral").points == 30  # below review


def test_a_stranger_does_not_match(program, alice):
    from antifraud.services.fingerprints import record_identity

    record_identity(alice)
    record_sign_in(alice, ip="203.0.113.50", user_agent="Partner browser")
    stranger = lead(program, alice, email="someone@example.com", ip="192.0.2.1")
    assert "self_referral" not in codes(stranger)


def test_a_deal_registered_in_the_cabinet_keeps_no_ip(program, alice):
    """The partner's own request is not the customer's: it must not look like
    self-referral by IP (and is not recorded at all)."""
    record_sign_in(alice, ip="203.0.113.50", user_agent="Partner browser")
    registered = lead(
        program, alice, email="deal@example.com", ip="203.0.113.50", source=Lead.Source.CABINET
    )
    assert (registered.ip, registered.device) == ("", "")
    assert "self_referral" not in codes(registered)
