"""The notification settings pages, the outbox, and the public unsubscribe link."""

from __future__ import annotations

import pytest

from prm.notifications.kinds import Kind
from prm.notifications.models import Notification, NotificationPreference
from prm.notifications.tokens import unsubscribe_token
from tests.rewards.helpers import sale


def muted(user) -> list[str]:  # type: ignore[no-untyped-def]
    pref = NotificationPreference.objects.filter(user=user).first()
    return pref.muted if pref else []


def test_a_partner_turns_a_kind_off_and_chooses_the_language(client_for, bob):
    client = client_for(bob.user)
    page = client.get("/account/notifications/")
    assert page.status_code == 200
    assert f'name="kind_{Kind.REWARD_NEW}"' in page.content.decode()
    assert f'name="kind_{Kind.STAFF_APPLICATION}"' not in page.content.decode()
    on = {f"kind_{k}": "on" for k in Kind if k != Kind.REWARD_NEW}
    response = client.post("/account/notifications/", {**on, "language": "ru"})
    assert response.status_code == 302
    assert muted(bob.user) == [Kind.REWARD_NEW]
    assert NotificationPreference.objects.get(user=bob.user).language == "ru"


def test_staff_see_only_the_kinds_their_role_receives(client_for, finance, manager):
    finance_page = client_for(finance).get("/manage/notifications/").content.decode()
    assert f"kind_{Kind.STAFF_PAYOUT_REQUESTED}" in finance_page
    assert f"kind_{Kind.STAFF_APPLICATION}" not in finance_page
    manager_page = client_for(manager).get("/manage/notifications/").content.decode()
    assert f"kind_{Kind.STAFF_APPLICATION}" in manager_page
    assert f"kind_{Kind.STAFF_PAYOUT_REQUESTED}" not in manager_page
    # A kind the role does not receive cannot be smuggled in.
    client_for(manager).post("/manage/notifications/", {"language": ""})
    assert muted(manager) == [Kind.STAFF_APPLICATION, Kind.STAFF_RISK_FLAGGED]


def test_the_unsubscribe_link_asks_then_turns_off_one_kind_without_sign_in(client_for, acme, bob):
    token = unsubscribe_token(tenant_id=acme.pk, user_id=bob.user_id, kind=Kind.REWARD_NEW)
    client = client_for(None)
    page = client.get(f"/notifications/unsubscribe/{token}/")
    assert page.status_code == 200 and muted(bob.user) == []  # a link scanner changes nothing
    assert client.post(f"/notifications/unsubscribe/{token}/").status_code == 200
    assert client.post(f"/notifications/unsubscribe/{token}/").status_code == 200  # again: same
    assert muted(bob.user) == [Kind.REWARD_NEW]


def test_the_link_in_an_email_works(client_for, program, bob, committed, outbox):
    committed(sale, program=program, partner=bob)
    header = outbox[0].extra_headers["List-Unsubscribe"].strip("<>")
    path = header.split("acme.localhost", 1)[1]
    assert client_for(None).post(path).status_code == 200
    assert muted(bob.user) == [Kind.REWARD_NEW]


@pytest.mark.parametrize(
    "forge",
    ["altered", "other_kind_in_payload", "other_tenant", "other_salt", "unknown_kind", "truncated"],
)
def test_a_forged_or_foreign_unsubscribe_link_is_a_404(client_for, acme, globex, bob, forge):
    good = unsubscribe_token(tenant_id=acme.pk, user_id=bob.user_id, kind=Kind.REWARD_NEW)
    from django.core import signing

    token, host = {
        "altered": (good[:-2] + ("AA" if not good.endswith("AA") else "BB"), "acme.localhost"),
        "other_kind_in_payload": (
            signing.dumps([str(acme.pk), bob.user_id, "news_post"], salt="wrong"),
            "acme.localhost",
        ),
        "other_tenant": (good, "globex.localhost"),
        "other_salt": (signing.dumps([str(acme.pk), bob.user_id, "reward_new"]), "acme.localhost"),
        "unknown_kind": (
            unsubscribe_token(tenant_id=acme.pk, user_id=bob.user_id, kind="reward_new").replace(
                "x", "y"
            ),
            "acme.localhost",
        ),
        "truncated": (good[:20], "acme.localhost"),
    }[forge]
    client = client_for(None, host)
    assert client.get(f"/notifications/unsubscribe/{token}/").status_code == 404
    assert client.post(f"/notifications/unsubscribe/{token}/").status_code == 404
    assert not NotificationPreference.all_tenants_unscoped.filter(user=bob.user).exists()


def test_a_staff_kind_token_does_not_unsubscribe_a_partner(client_for, acme, bob):
    token = unsubscribe_token(
        tenant_id=acme.pk, user_id=bob.user_id, kind=Kind.STAFF_PAYOUT_REQUESTED
    )
    assert client_for(None).post(f"/notifications/unsubscribe/{token}/").status_code == 404


def test_admins_read_the_outbox_paginated_within_a_query_budget(
    client_for, admin, manager, program, bob, committed, django_assert_max_num_queries
):
    for _ in range(3):
        committed(sale, program=program, partner=bob)
    assert Notification.objects.count() == 3
    client = client_for(admin)
    with django_assert_max_num_queries(20):
        page = client.get("/manage/notifications/outbox/?status=sent")
    assert page.status_code == 200
    assert page.content.decode().count("data-notification=") == 3
    assert (
        client.get("/manage/notifications/outbox/?status=failed")
        .content.decode()
        .count("data-notification=")
        == 0
    )
    assert client_for(manager).get("/manage/notifications/outbox/").status_code == 403
