"""The PayPal Payouts client against the fake PayPal server (tests/fakes/paypal.py)."""

from __future__ import annotations

import base64
from decimal import Decimal

import pytest

from prm.crypto import encrypt
from rewards.models.payouts import PayoutMethod
from rewards.providers import (
    FAILED,
    PAID,
    PENDING,
    PayoutItem,
    PayPalPayouts,
    ProviderError,
    provider_for,
)
from tests.fakes.paypal import FakePayPal

ITEMS = [
    PayoutItem("req-1", Decimal("12.5"), "USD", "anna@example.com", "Acme referrals"),
    PayoutItem("req-2", Decimal("100.00"), "USD", "fail-bob@example.com", "Acme referrals"),
]


def client_for(fake: FakePayPal, **kwargs) -> PayPalPayouts:
    kwargs.setdefault("timeout", 0.5)
    return PayPalPayouts(fake.url, fake.client_id, fake.secret, **kwargs)


def test_it_sends_a_batch_and_reads_each_items_outcome(paypal_fake):
    client = client_for(paypal_fake)

    batch_ref = client.send_batch(batch_id="batch-1", items=ITEMS)

    assert batch_ref in paypal_fake.batches
    assert client.batch_status(batch_ref) == {"req-1": PAID, "req-2": FAILED}
    token, create, show = paypal_fake.requests
    basic = base64.b64encode(f"{paypal_fake.client_id}:{paypal_fake.secret}".encode()).decode()
    assert (token.method, token.path) == ("POST", "/v1/oauth2/token")
    assert token.headers["authorization"] == f"Basic {basic}"
    assert token.body == {"grant_type": "client_credentials"}
    assert (create.method, create.path, create.status) == ("POST", "/v1/payments/payouts", 201)
    assert create.headers["authorization"].startswith("Bearer A21AA")
    assert create.body == {
        "sender_batch_header": {"sender_batch_id": "batch-1", "recipient_type": "EMAIL"},
        "items": [
            {
                "recipient_type": "EMAIL",
                "amount": {"value": "12.50", "currency": "USD"},
                "receiver": "anna@example.com",
                "sender_item_id": "req-1",
                "note": "Acme referrals",
            },
            {
                "recipient_type": "EMAIL",
                "amount": {"value": "100.00", "currency": "USD"},
                "receiver": "fail-bob@example.com",
                "sender_item_id": "req-2",
                "note": "Acme referrals",
            },
        ],
    }
    assert (show.method, show.path) == ("GET", f"/v1/payments/payouts/{batch_ref}")


def test_unclaimed_money_stays_pending_until_paypal_returns_it(paypal_fake):
    client = client_for(paypal_fake)
    items = [PayoutItem("req-1", Decimal("5.00"), "EUR", "unclaimed@example.com")]
    batch_ref = client.send_batch(batch_id="batch-1", items=items)
    assert client.batch_status(batch_ref) == {"req-1": PENDING}

    paypal_fake.set_item_status("req-1", "RETURNED")
    assert client.batch_status(batch_ref) == {"req-1": FAILED}


def test_it_reads_every_page_of_a_large_batch(paypal_fake):
    paypal_fake.max_page_size = 2
    client = client_for(paypal_fake)
    items = [PayoutItem(f"req-{n}", Decimal("1.00"), "USD", f"p{n}@example.com") for n in range(5)]
    batch_ref = client.send_batch(batch_id="batch-1", items=items)

    assert client.batch_status(batch_ref) == {f"req-{n}": PAID for n in range(5)}
    assert [r.query["page"] for r in paypal_fake.calls("GET")] == ["1", "2", "3"]


def test_it_keeps_the_token_while_it_is_valid(paypal_fake):
    client = client_for(paypal_fake)
    batch_ref = client.send_batch(batch_id="batch-1", items=ITEMS)
    client.batch_status(batch_ref)
    client.batch_status(batch_ref)
    assert len(paypal_fake.calls("POST", "/v1/oauth2/token")) == 1


def test_it_renews_the_token_before_it_expires(paypal_fake):
    paypal_fake.token_ttl = 600
    now = [1000.0]
    client = client_for(paypal_fake, clock=lambda: now[0])
    batch_ref = client.send_batch(batch_id="batch-1", items=ITEMS)

    now[0] += 590  # within the renewal margin
    client.batch_status(batch_ref)

    assert len(paypal_fake.calls("POST", "/v1/oauth2/token")) == 2
    assert all(r.status != 401 for r in paypal_fake.requests)


def test_it_gets_a_new_token_once_when_paypal_says_the_old_one_expired(paypal_fake):
    client = client_for(paypal_fake)
    batch_ref = client.send_batch(batch_id="batch-1", items=ITEMS)
    paypal_fake.expire_tokens()

    assert client.batch_status(batch_ref) == {"req-1": PAID, "req-2": FAILED}
    assert [(r.method, r.status) for r in paypal_fake.requests[2:]] == [
        ("GET", 401),
        ("POST", 200),
        ("GET", 200),
    ]


def test_it_gives_up_when_paypal_refuses_even_a_fresh_token(paypal_fake):
    client = client_for(paypal_fake)
    paypal_fake.inject("401", times=2, path="/v1/payments")

    with pytest.raises(ProviderError) as exc:
        client.send_batch(batch_id="batch-1", items=ITEMS)

    assert exc.value.retryable is False
    assert exc.value.code == "invalid_token"
    assert len(paypal_fake.calls("POST", "/v1/oauth2/token")) == 2
    assert paypal_fake.batches == {}


def test_wrong_credentials_are_not_worth_retrying(paypal_fake):
    client = PayPalPayouts(paypal_fake.url, paypal_fake.client_id, "wrong-secret")

    with pytest.raises(ProviderError) as exc:
        client.send_batch(batch_id="batch-1", items=ITEMS)

    assert exc.value.retryable is False
    assert exc.value.code == "invalid_client"
    assert "client id or secret" in str(exc.value)
    assert paypal_fake.calls(path="/v1/payments") == []
    assert "wrong-secret" not in repr(client)


@pytest.mark.parametrize(
    ("fault", "code"), [("500", "INTERNAL_SERVER_ERROR"), ("429", "RATE_LIMIT_REACHED")]
)
@pytest.mark.parametrize("path", ["/v1/oauth2/token", "/v1/payments/payouts"])
def test_paypal_trouble_is_worth_retrying(paypal_fake, fault, code, path):
    client = client_for(paypal_fake)
    paypal_fake.inject(fault, path=path)

    with pytest.raises(ProviderError) as exc:
        client.send_batch(batch_id="batch-1", items=ITEMS)

    assert exc.value.retryable is True
    assert exc.value.code == code
    assert exc.value.status == int(fault)
    # The retry goes through, and pays once.
    batch_ref = client.send_batch(batch_id="batch-1", items=ITEMS)
    assert list(paypal_fake.batches) == [batch_ref]


def test_a_timeout_is_worth_retrying_and_the_retry_adopts_the_batch_paypal_made(paypal_fake):
    paypal_fake.hang_seconds = 2.0
    client = client_for(paypal_fake, timeout=0.3)
    paypal_fake.inject("hang", path="/v1/payments/payouts")

    with pytest.raises(ProviderError) as exc:
        client.send_batch(batch_id="batch-1", items=ITEMS)
    assert exc.value.retryable is True
    assert exc.value.code == "TIMEOUT"
    # PayPal did the work before the answer was lost.
    [made] = paypal_fake.batches

    assert client.send_batch(batch_id="batch-1", items=ITEMS) == made
    assert list(paypal_fake.batches) == [made]


def test_a_dropped_connection_is_worth_retrying(paypal_fake):
    client = client_for(paypal_fake)
    paypal_fake.inject("drop", path="/v1/payments/payouts")

    with pytest.raises(ProviderError) as exc:
        client.send_batch(batch_id="batch-1", items=ITEMS)

    assert exc.value.retryable is True
    assert exc.value.code == "NETWORK"
    batch_ref = client.send_batch(batch_id="batch-1", items=ITEMS)
    assert list(paypal_fake.batches) == [batch_ref]


def test_sending_the_same_batch_again_returns_the_batch_paypal_already_has(paypal_fake):
    first = client_for(paypal_fake).send_batch(batch_id="batch-1", items=ITEMS)

    again = client_for(paypal_fake).send_batch(batch_id="batch-1", items=ITEMS)

    assert again == first
    assert len(paypal_fake.batches) == 1
    refused = paypal_fake.calls("POST", "/v1/payments/payouts")[-1]
    assert refused.status == 400
    # The id comes from PayPal's link, but the batch is read from the configured URL.
    assert paypal_fake.calls("GET")[-1].path == f"/v1/payments/payouts/{first}"


def test_it_does_not_adopt_a_batch_with_other_items(paypal_fake):
    client = client_for(paypal_fake)
    client.send_batch(batch_id="batch-1", items=ITEMS)

    with pytest.raises(ProviderError) as exc:
        client.send_batch(batch_id="batch-1", items=ITEMS[:1])

    assert exc.value.retryable is False
    assert exc.value.code == "DUPLICATE_BATCH"
    assert "other items" in str(exc.value)


def test_a_duplicate_without_a_link_is_a_clear_error(paypal_fake):
    paypal_fake.duplicate_links = False
    client = client_for(paypal_fake)
    client.send_batch(batch_id="batch-1", items=ITEMS)

    with pytest.raises(ProviderError) as exc:
        client.send_batch(batch_id="batch-1", items=ITEMS)

    assert exc.value.retryable is False
    assert "already has a batch with sender_batch_id batch-1" in str(exc.value)


def test_it_surfaces_paypals_validation_message(paypal_fake):
    client = client_for(paypal_fake)
    items = [PayoutItem("req-1", Decimal("1.00"), "USD", "not-an-email")]

    with pytest.raises(ProviderError) as exc:
        client.send_batch(batch_id="batch-1", items=items)

    assert exc.value.retryable is False
    assert exc.value.code == "VALIDATION_ERROR"
    assert exc.value.status == 400
    assert "Invalid request - see details." in str(exc.value)
    assert "items[0].receiver: Receiver is invalid or does not match with type" in str(exc.value)
    assert "debug_id" in str(exc.value)


def test_an_unknown_batch_is_not_worth_retrying(paypal_fake):
    with pytest.raises(ProviderError) as exc:
        client_for(paypal_fake).batch_status("NOSUCHBATCH")
    assert (exc.value.retryable, exc.value.code) == (False, "INVALID_RESOURCE_ID")


@pytest.mark.parametrize("amount", ["0.00", "-1.00", "1.005"])
def test_it_refuses_amounts_that_are_not_whole_positive_cents(paypal_fake, amount):
    items = [PayoutItem("req-1", Decimal(amount), "USD", "anna@example.com")]
    with pytest.raises(ValueError, match="cents"):
        client_for(paypal_fake).send_batch(batch_id="batch-1", items=items)
    assert paypal_fake.requests == []


def method(fake: FakePayPal, **fields) -> PayoutMethod:
    defaults = {
        "name": "PayPal USD",
        "kind": PayoutMethod.Kind.PAYPAL,
        "currency": "USD",
        "provider": PayoutMethod.Provider.PAYPAL,
        "provider_base_url": fake.url,
        "provider_client_id": fake.client_id,
        "provider_secret_encrypted": encrypt(fake.secret),
    }
    return PayoutMethod(**{**defaults, **fields})


def test_provider_for_a_paypal_method_talks_to_its_paypal_app(paypal_fake):
    provider = provider_for(method(paypal_fake))
    batch_ref = provider.send_batch(batch_id="batch-1", items=ITEMS)
    assert provider.batch_status(batch_ref) == {"req-1": PAID, "req-2": FAILED}


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"provider": PayoutMethod.Provider.MANUAL}, "MANUAL"),
        ({"kind": PayoutMethod.Kind.CARD}, "NOT_CONFIGURED"),
        ({"provider_client_id": ""}, "NOT_CONFIGURED"),
        ({"provider_secret_encrypted": "not-a-token"}, "NOT_CONFIGURED"),
    ],
)
def test_provider_for_refuses_methods_it_cannot_send_through(paypal_fake, fields, code):
    with pytest.raises(ProviderError) as exc:
        provider_for(method(paypal_fake, **fields))
    assert (exc.value.retryable, exc.value.code) == (False, code)
