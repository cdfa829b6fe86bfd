"""Console: payout methods, the payout queue, batches (the mass-payment file, sending
through PayPal) and the manual-approval threshold."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from partners.models import PartnerProfile
from prm.crypto import decrypt, encrypt
from prm.models import AuditEntry, Tenant
from prm.tenancy import tenant_scope
from rewards.models import PayoutBatch, PayoutMethod, PayoutRequest, Reward
from rewards.services.approvals import reward_approve
from rewards.services.ledger import balance
from rewards.services.payouts import batch_create, payout_approve, payout_request
from tests.rewards.console_world import IBAN, actions, build, details, messages_of
from tests.rewards.helpers import make_partner, sale

D = Decimal
METHOD = {
    "kind": "card",
    "name": "Visa",
    "currency": "USD",
    "fee_fixed": "1",
    "fee_percent": "2.5",
    "minimum": "20",
    "schedule": "monthly",
    "provider": "manual",
    "provider_base_url": "",
    "provider_client_id": "",
    "provider_secret": "",
}


@pytest.fixture
def world(acme, owner):  # type: ignore[no-untyped-def]
    return build(acme, owner)


def status_of(payout) -> str:  # type: ignore[no-untyped-def]
    payout.refresh_from_db()
    return payout.status


# Payout methods


@pytest.mark.parametrize("role", ["owner", "admin", "finance", "analyst"])
def test_the_money_roles_see_the_methods(client_for, acme, world, role, request):
    html = (
        client_for(request.getfixturevalue(role)).get("/manage/payouts/methods/").content.decode()
    )
    assert f'data-method="{world.card.pk}"' in html and f'data-method="{world.bank.pk}"' in html
    assert ("/manage/payouts/methods/new/" in html) is (role in {"owner", "admin", "finance"})


def test_a_manager_has_no_payout_pages(client_for, acme, world, manager):
    client = client_for(manager)
    for url in (
        "/manage/payouts/",
        "/manage/payouts/methods/",
        f"/manage/payouts/batches/{world.batch.pk}/",
    ):
        response = client.get(url)
        assert response.status_code == 403, url
        assert "Alice" not in response.content.decode()


def test_it_creates_a_method_and_audits_it(client_for, acme, finance):
    response = client_for(finance).post("/manage/payouts/methods/new/", METHOD)
    assert response.status_code == 302
    with tenant_scope(acme):
        method = PayoutMethod.objects.get(name="Visa")
    assert (method.fee_fixed, method.fee_percent, method.minimum, method.schedule) == (
        D("1"),
        D("2.5"),
        D("20"),
        "monthly",
    )
    assert actions(acme) == ["payout_method.create"]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"fee_percent": "100"}, "fee_percent"),
        ({"fee_fixed": "-1"}, "fee_fixed"),
        ({"minimum": "-5"}, "minimum"),
        ({"name": ""}, "name"),
        ({"provider": "paypal"}, "kind"),
        ({"provider": "paypal", "kind": "paypal"}, "provider_secret"),
        ({"provider": "paypal", "kind": "paypal"}, "provider_base_url"),
        ({"provider": "paypal", "kind": "paypal"}, "provider_client_id"),
        ({"provider_base_url": "ftp://paypal.test"}, "provider_base_url"),
    ],
)
def test_a_wrong_method_shows_errors_and_saves_nothing(client_for, acme, finance, changes, field):
    response = client_for(finance).post("/manage/payouts/methods/new/", {**METHOD, **changes})
    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert not PayoutMethod.all_tenants_unscoped.filter(tenant=acme).exists()
    assert actions(acme) == []


def test_the_provider_secret_is_encrypted_and_never_shown_back(client_for, acme, finance):
    client = client_for(finance)
    data = {
        **METHOD,
        "kind": "paypal",
        "provider": "paypal",
        "provider_base_url": "https://api-m.sandbox.paypal.com",
        "provider_client_id": "client-1",
        "provider_secret": "s3cr3t-value",
    }
    assert client.post("/manage/payouts/methods/new/", data).status_code == 302
    with tenant_scope(acme):
        method = PayoutMethod.objects.get(name="Visa")
    assert "s3cr3t" not in method.provider_secret_encrypted
    assert decrypt(method.provider_secret_encrypted) == "s3cr3t-value"
    entry = AuditEntry.all_tenants_unscoped.get(tenant=acme, action="payout_method.create")
    assert entry.after["provider_secret"] == "changed"
    assert "s3cr3t" not in str(entry.after) and "provider_secret_encrypted" not in entry.after

    page = client.get(f"/manage/payouts/methods/{method.pk}/edit/")
    assert "s3cr3t" not in page.content.decode()
    assert method.provider_secret_encrypted not in page.content.decode()
    assert "A provider secret is saved." in page.content.decode()

    # Saving without a new secret keeps the one stored.
    stored = method.provider_secret_encrypted
    client.post(
        f"/manage/payouts/methods/{method.pk}/edit/",
        {**data, "provider_secret": "", "name": "PayPal"},
    )
    method.refresh_from_db()
    assert (method.name, method.provider_secret_encrypted) == ("PayPal", stored)

    client.post(f"/manage/payouts/methods/{method.pk}/edit/", {**data, "provider_secret": "new"})
    method.refresh_from_db()
    assert decrypt(method.provider_secret_encrypted) == "new"


def test_it_deactivates_and_reactivates_a_method(client_for, acme, finance, world):
    client = client_for(finance)
    client.post(f"/manage/payouts/methods/{world.card.pk}/toggle/")
    world.card.refresh_from_db()
    assert not world.card.is_active
    client.post(f"/manage/payouts/methods/{world.card.pk}/toggle/")
    world.card.refresh_from_db()
    assert world.card.is_active


# The queue


def listed(response) -> list[str]:  # type: ignore[no-untyped-def]
    html = response.content.decode().split('id="payouts"')[1].split("</table>")[0]
    return [chunk.split('"', 1)[0] for chunk in html.split('data-payout="')[1:]]


def test_the_queue_shows_each_tab_with_its_count(client_for, acme, analyst, world):
    client = client_for(analyst)
    requested = client.get("/manage/payouts/")
    assert listed(requested) == [str(world.requested.pk)]
    assert listed(client.get("/manage/payouts/?tab=approved")) == [str(world.approved.pk)]
    assert listed(client.get("/manage/payouts/?tab=paid")) == []
    assert listed(client.get("/manage/payouts/?tab=bogus")) == [str(world.requested.pk)]
    html = requested.content.decode()
    assert 'Requested <span class="badge">1</span>' in html
    assert 'Approved <span class="badge">1</span>' in html
    assert "/approve/" not in html  # analysts read only


def test_the_payout_queue_stays_within_its_query_budget(
    client_for, acme, finance, world, django_assert_max_num_queries
):
    with tenant_scope(acme):
        for n in range(10):
            partner = make_partner(acme, world.program, f"QQ{n}")
            details(acme, partner, world.card, "4242424242424242")
            sale(world.program, partner, "300.00")
            reward_approve(reward=Reward.objects.get(partner=partner), actor=finance)
            payout = payout_request(tenant=acme, partner=partner, method=world.card, amount=D("30"))
            payout_approve(payout=payout, actor=finance)
    client = client_for(finance)
    with django_assert_max_num_queries(12):
        response = client.get("/manage/payouts/?tab=approved")
    assert len(listed(response)) == 11


def test_it_approves_rejects_and_pays_payouts(client_for, acme, finance, world):
    client = client_for(finance)
    response = client.post(f"/manage/payouts/{world.requested.pk}/approve/", {"tab": "requested"})
    assert response["Location"] == "/manage/payouts/?tab=requested"
    assert status_of(world.requested) == "approved"

    client.post(f"/manage/payouts/{world.requested.pk}/paid/")
    assert status_of(world.requested) == "paid"
    with tenant_scope(acme):
        assert balance(world.alice, "USD").paid == D("49.00")  # 50 less the 1.00 fee

    paid_again = client.post(f"/manage/payouts/{world.requested.pk}/paid/")
    assert "no longer approved" in messages_of(paid_again)[-1]
    assert actions(acme)[-2:] == ["payout.approve", "payout.paid"]


def test_rejecting_a_payout_needs_a_reason_and_returns_the_money(client_for, acme, finance, world):
    client = client_for(finance)
    with tenant_scope(acme):
        available = balance(world.alice, "USD").available
    refused = client.post(f"/manage/payouts/{world.requested.pk}/reject/", {"reason": "  "})
    assert messages_of(refused)[-1] == "Give a reason the partner will see."
    assert status_of(world.requested) == "requested"

    client.post(f"/manage/payouts/{world.requested.pk}/reject/", {"reason": "Wrong card"})
    world.requested.refresh_from_db()
    assert (world.requested.status, world.requested.reason) == ("rejected", "Wrong card")
    with tenant_scope(acme):
        assert balance(world.alice, "USD").available == available + D("50")


# Batches


def test_the_approved_tab_offers_a_batch_per_method(client_for, acme, finance, world):
    client = client_for(finance)
    client.post(f"/manage/payouts/{world.requested.pk}/approve/")
    html = client.get("/manage/payouts/?tab=approved").content.decode()
    ready = html.split('id="ready"')[1].split("</section>")[0]
    assert f'data-method="{world.card.pk}"' in ready and "50.00 USD" in ready

    response = client.post("/manage/payouts/batches/new/", {"method": world.card.pk})
    with tenant_scope(acme):
        batch = PayoutBatch.objects.get(method=world.card)
    assert response["Location"] == f"/manage/payouts/batches/{batch.pk}/"
    world.requested.refresh_from_db()
    assert world.requested.batch == batch

    empty = client.post("/manage/payouts/batches/new/", {"method": world.card.pk})
    assert messages_of(empty)[-1] == "Card has no approved payouts to batch."


def test_the_batch_page_lists_its_payouts(client_for, acme, analyst, world):
    html = client_for(analyst).get(f"/manage/payouts/batches/{world.batch.pk}/").content.decode()
    assert f'data-payout="{world.approved.pk}"' in html
    assert "DE89 •••• 3000" in html and IBAN not in html
    assert "export.csv" not in html  # exports hold full details: money roles only


def rows_of_csv(content: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))


def test_a_bank_batch_exports_full_details_and_the_export_is_audited(
    client_for, acme, finance, world
):
    response = client_for(finance).get(f"/manage/payouts/batches/{world.batch.pk}/export.csv")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"].startswith('attachment; filename="payouts-')
    header, row = rows_of_csv(response.content)
    assert header[:5] == ["Payout id", "Partner", "E-mail", "Method", "Payout details"]
    assert row == [
        str(world.approved.pk),
        "Alice",
        "alice@example.test",
        "Bank",
        IBAN,
        "Alice",
        "USD",
        "100.00",
        "0.00",
        "100.00",
        f"payout {world.approved.pk}",
    ]
    entry = AuditEntry.all_tenants_unscoped.get(tenant=acme, action="payout.export")
    assert entry.after == {"format": "csv", "payouts": 1, "full_details": True}
    assert entry.object_id == str(world.batch.pk)


def test_the_excel_export_holds_the_same_rows(client_for, acme, finance, world):
    response = client_for(finance).get(f"/manage/payouts/batches/{world.batch.pk}/export.xlsx")
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    sheet = load_workbook(io.BytesIO(response.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][4] == "Payout details"
    assert rows[1][:5] == (str(world.approved.pk), "Alice", "alice@example.test", "Bank", IBAN)
    assert rows[1][9] == 100
    assert actions(acme)[-1] == "payout.export"


def test_other_batches_export_masked_details_and_defuse_formulas(client_for, acme, finance, world):
    with tenant_scope(acme):
        PartnerProfile.objects.filter(pk=world.alice.pk).update(display_name="=HYPERLINK(1)")
        payout_approve(payout=world.requested, actor=finance)
        batch = batch_create(tenant=acme, method=world.card, actor=finance)
    response = client_for(finance).get(f"/manage/payouts/batches/{batch.pk}/export.csv")
    _header, row = rows_of_csv(response.content)
    assert row[1] == "'=HYPERLINK(1)"
    assert row[4] == "•••• 4242"
    assert "4242424242424242" not in response.content.decode("utf-8-sig")
    assert (
        AuditEntry.all_tenants_unscoped.get(tenant=acme, action="payout.export").after[
            "full_details"
        ]
        is False
    )


def test_an_unknown_export_format_is_a_404(client_for, acme, finance, world):
    assert (
        client_for(finance).get(f"/manage/payouts/batches/{world.batch.pk}/export.pdf").status_code
        == 404
    )


def test_a_manual_batch_is_marked_paid_at_once(client_for, acme, finance, world):
    response = client_for(finance).post(f"/manage/payouts/batches/{world.batch.pk}/paid/")
    assert messages_of(response)[-1] == "1 payout marked paid."
    assert status_of(world.approved) == "paid"
    world.batch.refresh_from_db()
    assert world.batch.status == "done"


def test_a_manual_batch_cannot_be_sent_through_a_provider(client_for, acme, finance, world):
    response = client_for(finance).post(f"/manage/payouts/batches/{world.batch.pk}/send/")
    assert "The provider refused the batch" in messages_of(response)[-1]
    assert status_of(world.approved) == "approved"


# Sending through PayPal


@pytest.fixture
def paypal_batch(acme, owner, world, paypal_fake):  # type: ignore[no-untyped-def]
    """alice (paid by PayPal) and bob (whose PayPal account refuses) in one batch."""
    with tenant_scope(acme):
        method = PayoutMethod.objects.create(
            tenant=acme,
            kind="paypal",
            name="PayPal",
            currency="USD",
            provider="paypal",
            provider_base_url=paypal_fake.url,
            provider_client_id=paypal_fake.client_id,
            provider_secret_encrypted=encrypt(paypal_fake.secret),
        )
        details(acme, world.alice, method, "alice@example.com")
        details(acme, world.bob, method, "fail-bob@example.com")
        reward_approve(reward=Reward.objects.get(partner=world.bob), actor=owner)
        alice = payout_request(tenant=acme, partner=world.alice, method=method, amount=D("20"))
        bob = payout_request(tenant=acme, partner=world.bob, method=method, amount=D("30"))
        for payout in (alice, bob):
            payout_approve(payout=payout, actor=owner)
        batch = batch_create(tenant=acme, method=method, actor=owner)
    return batch, alice, bob


def test_sending_pays_the_delivered_payouts_and_returns_the_failed_ones(
    client_for, acme, finance, world, paypal_fake, paypal_batch
):
    batch, alice, bob = paypal_batch
    response = client_for(finance).post(f"/manage/payouts/batches/{batch.pk}/send/")

    assert response.status_code == 302
    assert (status_of(alice), status_of(bob)) == ("paid", "failed")
    batch.refresh_from_db()
    assert batch.status == "done" and batch.provider_ref in paypal_fake.batches
    (create,) = paypal_fake.calls("POST", "/v1/payments/payouts")
    assert create.body["sender_batch_header"]["sender_batch_id"] == str(batch.pk)
    assert {i["receiver"] for i in create.body["items"]} == {
        "alice@example.com",
        "fail-bob@example.com",
    }
    with tenant_scope(acme):
        assert balance(world.bob, "USD").available == D("30.00")  # back to bob
        assert balance(world.bob, "USD").processing == D("0.00")
    assert messages_of(response) == [
        "1 payout paid.",
        "1 payout failed at the provider; the money is back in the balance.",
    ]
    log = actions(acme)
    assert "payout.batch_send" in log and "payout.paid" in log and "payout.failed" in log


def test_a_provider_that_is_down_leaves_the_payouts_approved_for_another_try(
    client_for, acme, finance, paypal_fake, paypal_batch
):
    batch, alice, bob = paypal_batch
    paypal_fake.inject("500", times=1, path="/v1/payments/payouts")
    client = client_for(finance)
    response = client.post(f"/manage/payouts/batches/{batch.pk}/send/")
    assert (status_of(alice), status_of(bob)) == ("approved", "approved")
    assert "Try again in a few minutes" in messages_of(response)[-1]
    batch.refresh_from_db()
    assert (batch.status, batch.provider_ref) == ("open", "")

    client.post(f"/manage/payouts/batches/{batch.pk}/send/")
    assert (status_of(alice), status_of(bob)) == ("paid", "failed")


def test_payouts_the_provider_still_works_on_are_checked_again_later(
    client_for, acme, finance, world, paypal_fake, paypal_batch
):
    batch, alice, bob = paypal_batch
    with tenant_scope(acme):
        # PayPal keeps payouts to this receiver PENDING until told otherwise.
        PayoutRequest.objects.filter(pk=alice.pk).update(
            details_encrypted=encrypt("pending-alice@example.com")
        )
    client = client_for(finance)
    first = client.post(f"/manage/payouts/batches/{batch.pk}/send/")
    assert (status_of(alice), status_of(bob)) == ("approved", "failed")
    assert "still being processed" in messages_of(first)[-1]
    batch.refresh_from_db()
    assert batch.status == "sent"

    paypal_fake.set_item_status(str(alice.pk), "SUCCESS")
    page = client.get(f"/manage/payouts/batches/{batch.pk}/").content.decode()
    assert "Check with PayPal" in page
    client.post(f"/manage/payouts/batches/{batch.pk}/send/")
    assert status_of(alice) == "paid"
    assert len(paypal_fake.calls("POST", "/v1/payments/payouts")) == 1  # sent once


# The manual-approval threshold


def test_it_saves_the_manual_approval_threshold(
    client_for, acme, finance, world, django_capture_on_commit_callbacks
):
    # The commit drops the cached tenant of the host: the next page reads the new value.
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(finance).post(
            "/manage/payouts/settings/",
            {
                "manual_approval_above": "250",
                "correction_confirm_above": "500.00",
                "correction_second_approval_above": "5000.00",
            },
        )
    assert response.status_code == 302
    assert Tenant.objects.get(pk=acme.pk).manual_approval_above == D("250")
    entry = AuditEntry.all_tenants_unscoped.get(tenant=acme, action="settings.update")
    assert entry.after == {"manual_approval_above": "250"}
    html = client_for(finance).get("/manage/payouts/").content.decode()
    assert "Rewards above 250.00 wait for a person" in html

    client_for(finance).post("/manage/payouts/settings/", {"manual_approval_above": ""})
    assert Tenant.objects.get(pk=acme.pk).manual_approval_above is None


def test_a_negative_threshold_is_refused(client_for, acme, finance, world):
    response = client_for(finance).post(
        "/manage/payouts/settings/", {"manual_approval_above": "-1"}
    )
    assert response.status_code == 200
    assert "manual_approval_above" in response.context["settings_form"].errors
    assert Tenant.objects.get(pk=acme.pk).manual_approval_above is None


def test_the_methods_and_batch_pages_stay_within_their_query_budgets(
    client_for, acme, finance, world, django_assert_max_num_queries
):
    with tenant_scope(acme):
        for n in range(10):
            PayoutMethod.objects.create(tenant=acme, kind="card", name=f"M{n}", currency="USD")
            partner = make_partner(acme, world.program, f"BB{n}")
            details(acme, partner, world.bank, IBAN)
            sale(world.program, partner, "300.00")
            reward_approve(reward=Reward.objects.get(partner=partner), actor=finance)
            payout = payout_request(tenant=acme, partner=partner, method=world.bank, amount=D("30"))
            payout_approve(payout=payout, actor=finance)
        batch = batch_create(tenant=acme, method=world.bank, actor=finance)
    client = client_for(finance)
    with django_assert_max_num_queries(8):
        assert client.get("/manage/payouts/methods/").status_code == 200
    with django_assert_max_num_queries(8):
        assert client.get(f"/manage/payouts/batches/{batch.pk}/").status_code == 200
    with django_assert_max_num_queries(12):
        assert client.get(f"/manage/payouts/batches/{batch.pk}/export.xlsx").status_code == 200


# SECRET_KEY changed without PRM_ENCRYPTION_KEY: stored secrets no longer decrypt


KEY_CHANGED = "can no longer be read"


def test_a_changed_key_stops_a_paypal_send_with_a_clear_message(
    client_for, acme, finance, world, paypal_fake, paypal_batch, settings
):
    batch, alice, bob = paypal_batch
    settings.SECRET_KEY = "a-new-secret-key-" + "n" * 48
    response = client_for(finance).post(f"/manage/payouts/batches/{batch.pk}/send/")
    assert response.status_code == 302
    assert "encryption key changed" in " ".join(messages_of(response))
    assert (status_of(alice), status_of(bob)) == ("approved", "approved")
    assert paypal_fake.calls("POST", "/v1/payments/payouts") == []


def test_a_changed_key_makes_the_bank_export_say_why(client_for, acme, finance, world, settings):
    settings.SECRET_KEY = "a-new-secret-key-" + "n" * 48
    client = client_for(finance)
    response = client.get(f"/manage/payouts/batches/{world.batch.pk}/export.csv")
    assert response.status_code in (200, 302)
    followed = client.get(f"/manage/payouts/batches/{world.batch.pk}/")
    assert followed.status_code == 200
    said = " ".join(messages_of(response)) + followed.content.decode()
    assert KEY_CHANGED in said
