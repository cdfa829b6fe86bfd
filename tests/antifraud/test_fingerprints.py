"""Partner fingerprints: sign-in, identity e-mail, payout details; the e-mail key."""

from __future__ import annotations

import pytest
from django.test import Client

from antifraud.models import PartnerFingerprint
from antifraud.services.fingerprints import payout_fingerprint, record_identity
from programs.services.normalize import email_key
from programs.services.trace import capture, payer_key
from tests.factories import PASSWORD


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ("Jane.Doe+promo@GoogleMail.com", "janedoe@gmail.com"),
        ("j.a.n.e@gmail.com", "jane@gmail.com"),
        ("john.smith+x@example.com", "john.smith@example.com"),
        ("plain@example.com", "plain@example.com"),
        ("not-an-email", ""),
        ("+tag@example.com", ""),
    ],
)
def test_the_email_key_folds_what_identifies_the_same_mailbox(raw, key):
    assert email_key(raw) == key


def test_a_trace_is_masked_or_hashed_as_the_tenant_says():
    truncated = capture("203.0.113.9", "UA", "truncate")
    hashed = capture("203.0.113.9", "UA", "hash")
    assert (truncated.ip, truncated.net) == ("203.0.113.0", "203.0.113.0/24")
    assert "203.0.113" not in hashed.ip + hashed.net
    assert truncated.device == hashed.device != capture("203.0.113.9", "UA2", "hash").device
    assert capture("", "UA", "hash").ip == ""
    assert capture("garbage", "UA", "hash").device == ""


def test_a_partner_signing_in_leaves_sign_in_keys(acme, alice):
    client = Client(REMOTE_ADDR="203.0.113.44", HTTP_USER_AGENT="Partner UA")
    response = client.post(
        "/accounts/login/",
        {"login": alice.user.email, "password": PASSWORD},
        HTTP_HOST="acme.localhost",
    )
    assert response.status_code == 302
    kinds = dict(
        PartnerFingerprint.all_tenants_unscoped.filter(partner=alice).values_list("kind", "value")
    )
    assert kinds["ip"] == "203.0.113.0"
    assert kinds["net"] == "203.0.113.0/24"
    assert kinds["device"] == capture("203.0.113.44", "Partner UA", "truncate").device


def test_staff_signing_in_leaves_nothing(acme, owner):
    client = Client(REMOTE_ADDR="203.0.113.44")
    client.post(
        "/accounts/login/", {"login": owner.email, "password": PASSWORD}, HTTP_HOST="acme.localhost"
    )
    assert not PartnerFingerprint.all_tenants_unscoped.exists()


def test_fingerprints_are_upserted_and_payout_details_are_hashed(in_acme, alice):
    record_identity(alice)
    record_identity(alice)
    assert PartnerFingerprint.objects.filter(kind="email").count() == 1
    kind, value = payout_fingerprint("card", "4111111111111111")
    assert (kind, value) == ("card", payer_key(card_bin="411111", card_last4="1111"))
    assert payout_fingerprint("bank", "DE89370400440532013000")[0] == "iban"
    assert payout_fingerprint("paypal", "me@example.com")[0] == "wallet"


def test_saving_payout_details_records_their_fingerprint(in_acme, alice, owner):
    from rewards.models import PayoutMethod
    from rewards.views.cabinet import payout_details_set

    method = PayoutMethod.objects.create(tenant=in_acme, kind="card", name="Card", currency="USD")
    payout_details_set(
        tenant=in_acme,
        partner=alice,
        method=method,
        account="4111111111111111",
        masked="•••• 1111",
        holder="",
        actor=alice.user,
    )
    stored = PartnerFingerprint.objects.get(partner=alice, kind="card").value
    assert stored == payer_key(card_bin="411111", card_last4="1111")
