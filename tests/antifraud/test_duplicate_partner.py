from __future__ import annotations

from antifraud.services.fingerprints import record_payout, record_sign_in
from tests.antifraud.helpers import codes
from tests.rewards.helpers import make_partner


def test_it_fires_when_two_partners_share_a_payout_card(program, alice):
    bob = make_partner(program.tenant, program, "BOB")
    record_payout(alice, method_kind="card", account="4111111111111111")
    record_payout(bob, method_kind="card", account="4111111111111111")
    assert "duplicate_partner" in codes(bob)


def test_a_shared_office_network_alone_is_not_another_account(program, alice):
    bob = make_partner(program.tenant, program, "BOB")
    record_sign_in(alice, ip="203.0.113.5", user_agent="A")
    record_sign_in(bob, ip="203.0.113.6", user_agent="B")
    assert "duplicate_partner" not in codes(bob)
