"""The console's personal-data pages: the staff export (an audited attachment) and the
erase confirmation page (what is wiped and kept, refusals as form errors, the result)."""

from __future__ import annotations

import pytest

from partners.forms import NOT_THEIR_EMAIL
from partners.models import PartnerProfile
from partners.privacy import ERASED_IS_FINAL, PAYOUT_IN_FLIGHT
from prm.models import AuditEntry
from prm.tenancy import tenant_scope
from rewards.models import PayoutDetails
from rewards.services.payouts import payout_mark_paid, payout_reject
from tests.rewards.console_world import World, build, messages_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(acme, owner) -> World:  # type: ignore[no-untyped-def]
    return build(acme, owner)


@pytest.fixture
def settled(world, owner) -> World:  # type: ignore[no-untyped-def]
    """The world with nothing in flight: alice's approved payout paid, the other rejected."""
    with tenant_scope(world.tenant):
        payout_mark_paid(payout=world.approved, actor=owner)
        payout_reject(payout=world.requested, actor=owner, reason="no")
    return world


def alice(world: World) -> PartnerProfile:
    with tenant_scope(world.tenant):
        return PartnerProfile.objects.select_related("user").get(pk=world.alice.pk)


def erase_url(world: World) -> str:
    return f"/manage/partners/{world.alice.pk}/erase/"


def test_staff_download_the_partners_export_as_an_audited_attachment(client_for, world, admin):
    response = client_for(admin).get(f"/manage/partners/{world.alice.pk}/data.json")
    assert response.status_code == 200
    assert response["Content-Disposition"] == (
        f'attachment; filename="partner-{world.alice.pk}.json"'
    )
    own = client_for(world.alice.user).get("/account/data.json").json()
    assert response.json() == own
    assert own["user"]["email"] == "alice@example.test" and own["payouts"]
    with tenant_scope(world.tenant):
        entry = AuditEntry.objects.get(action="partner.export")
    assert (entry.actor_id, entry.object_id) == (admin.pk, str(world.alice.pk))
    assert entry.ip == "127.0.0.1"


@pytest.mark.parametrize("who", ["manager", "finance", "analyst"])
def test_other_roles_get_neither_page(request, client_for, world, who):
    client = client_for(request.getfixturevalue(who))
    assert client.get(f"/manage/partners/{world.alice.pk}/data.json").status_code == 403
    assert client.get(erase_url(world)).status_code == 403
    with tenant_scope(world.tenant):
        assert not AuditEntry.objects.filter(action="partner.export").exists()


def test_the_erase_page_says_what_is_wiped_and_what_is_kept(client_for, settled, owner):
    html = client_for(owner).get(erase_url(settled)).content.decode()
    assert "alice@example.test" in html
    assert "2 saved payout accounts: deleted." in html
    assert "The accounts on 2 past payouts" in html
    assert 'id="erase-balances"' in html and 'data-currency="USD"' in html
    assert "Payouts: Paid" in html and "Payouts: Rejected" in html
    assert 'id="erase-form"' in html and 'id="erase-refusal"' not in html


def test_a_payout_in_flight_refuses_the_erasure_as_a_form_error(client_for, world, owner):
    client = client_for(owner)
    assert str(PAYOUT_IN_FLIGHT) in client.get(erase_url(world)).content.decode()
    response = client.post(
        erase_url(world), {"email": "alice@example.test", "reason": "their request"}
    )
    assert response.status_code == 200
    assert response.context["form"].non_field_errors() == [str(PAYOUT_IN_FLIGHT)]
    assert alice(world).erased_at is None
    with tenant_scope(world.tenant):
        assert not AuditEntry.objects.filter(action="partner.erase").exists()


def test_a_wrong_email_erases_nothing(client_for, settled, owner):
    response = client_for(owner).post(
        erase_url(settled), {"email": "bob@example.test", "reason": "their request"}
    )
    assert response.status_code == 200
    assert response.context["form"].errors["email"] == [str(NOT_THEIR_EMAIL)]
    assert alice(settled).erased_at is None


def test_staff_erase_a_partner_through_the_page(client_for, settled, admin):
    response = client_for(admin).post(
        erase_url(settled), {"email": " ALICE@example.test ", "reason": "ticket 4711"}
    )
    assert response.status_code == 302 and response["Location"] == "/manage/partners/"
    assert messages_of(response) == [
        "The partner's personal data was erased; their ledger and payouts are kept."
    ]
    erased = alice(settled)
    assert erased.erased_at is not None and erased.status == "blocked"
    assert erased.user.email.startswith("erased-")
    with tenant_scope(settled.tenant):
        assert not PayoutDetails.objects.filter(partner=erased).exists()
        entry = AuditEntry.objects.get(action="partner.erase")
    assert (entry.actor_id, entry.after) == (admin.pk, {"reason": "ticket 4711"})
    assert entry.ip == "127.0.0.1"
    # Again: nothing more happens.
    again = client_for(admin).post(erase_url(settled), {"email": "x", "reason": "y"})
    assert again.status_code == 302
    assert messages_of(again) == ["This partner's personal data was already erased."]
    page = client_for(admin).get(erase_url(settled)).content.decode()
    assert 'id="already-erased"' in page and 'id="erase-form"' not in page


def test_an_erased_partner_is_marked_and_cannot_be_unblocked_from_the_console(
    client_for, settled, owner
):
    client = client_for(owner)
    client.post(erase_url(settled), {"email": "alice@example.test", "reason": "asked"})
    html = client.get("/manage/partners/").content.decode()
    row = html.split(f'data-partner="{settled.alice.pk}"')[1].split("</tr>")[0]
    assert "Erased" in row
    assert "Unblock" not in row and "Erase…" not in row and "Data (JSON)" in row
    response = client.post(f"/manage/partners/{settled.alice.pk}/status/", {"status": "active"})
    assert response.status_code == 302
    assert messages_of(response) == [str(ERASED_IS_FINAL)]
    assert alice(settled).status == "blocked"


def test_the_partner_list_and_ledger_link_to_the_pages_for_admins_only(
    client_for, world, owner, manager, finance
):
    data = f'href="/manage/partners/{world.alice.pk}/data.json"'
    erase = f'href="{erase_url(world)}"'
    ledger = f"/manage/partners/{world.alice.pk}/ledger/"
    for page in (client_for(owner).get("/manage/partners/"), client_for(owner).get(ledger)):
        assert data in page.content.decode() and erase in page.content.decode()
    for page in (client_for(manager).get("/manage/partners/"), client_for(finance).get(ledger)):
        assert page.status_code == 200
        assert data not in page.content.decode() and erase not in page.content.decode()


def test_a_batch_file_of_an_erased_partner_shows_the_marker(client_for, settled, owner):
    client = client_for(owner)
    client.post(erase_url(settled), {"email": "alice@example.test", "reason": "asked"})
    response = client.get(f"/manage/payouts/batches/{settled.batch.pk}/export.csv")
    assert response.status_code == 200
    text = response.content.decode()
    assert "[erased]" in text
    assert "DE89" not in text and "alice@example.test" not in text and "Alice" not in text
