"""HubSpot webhook v3 signature: the class of fault is "a body we did not get from our
app" — wrong secret, tampered body/uri/method, replay after five minutes, no headers."""

import pytest

from integrations.crm.base import CrmAuthError, CrmError
from integrations.crm.hubspot import webhooks

SECRET = "app-secret"
URI = "https://prm.example/integrations/crm/events/abc?x=1"
BODY = (
    b'[{"subscriptionType":"deal.propertyChange","objectId":42},'
    b'{"objectId":42,"subscriptionType":"deal.creation"},'
    b'{"subscriptionType":"contact.creation","objectId":7}]'
)
NOW = 1_700_000_000_000


def _headers(secret=SECRET, method="POST", uri=URI, body=BODY, ts=NOW):
    sig = webhooks.signature(secret, method, uri, body, str(ts))
    return {"X-HubSpot-Signature-v3": sig, "X-HubSpot-Request-Timestamp": str(ts)}


def test_signed_delivery_passes_and_names_deals_and_contacts_once():
    webhooks.verify(SECRET, "POST", URI, BODY, _headers(), now_ms=NOW + 1000)
    # A contact's event names the contact: its deals are read (associations) with it.
    assert webhooks.deal_ids(BODY) == ["42", "contact:7"]


@pytest.mark.parametrize(
    "headers, method, uri, body, now",
    [
        (_headers(secret="other"), "POST", URI, BODY, NOW),
        (_headers(), "POST", URI, BODY + b" ", NOW),
        (_headers(), "GET", URI, BODY, NOW),
        (_headers(), "POST", URI + "&y=2", BODY, NOW),
        (_headers(), "POST", URI, BODY, NOW + webhooks.MAX_AGE_MS + 1),
        ({}, "POST", URI, BODY, NOW),
        (
            {"X-HubSpot-Signature-v3": "x", "X-HubSpot-Request-Timestamp": "soon"},
            "POST",
            URI,
            BODY,
            NOW,
        ),
    ],
)
def test_foreign_or_stale_delivery_is_refused(headers, method, uri, body, now):
    with pytest.raises(CrmAuthError):
        webhooks.verify(SECRET, method, uri, body, headers, now_ms=now)


def test_encoded_uri_characters_are_signed_decoded():
    encoded = URI + "&email=a%40b.c"
    headers = _headers(uri=URI + "&email=a@b.c")
    webhooks.verify(SECRET, "POST", encoded, BODY, headers, now_ms=NOW)


def test_not_json_body_is_a_crm_error():
    with pytest.raises(CrmError):
        webhooks.deal_ids(b"not json")
