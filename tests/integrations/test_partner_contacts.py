"""Partners as CRM contacts (issue 16, point 4): opt-in per connection, against the fake
CRMs over real HTTP, through the partner outbox and a real worker."""

from __future__ import annotations

import pytest

from integrations.crm.partner_sync import push_partners
from integrations.models import CrmConnection, CrmPartnerLink
from integrations.services.connections import connection_save
from partners.models import PartnerTag
from partners.people import tags_assign
from tests.integrations.conftest import connect, make_fake
from tests.rewards.helpers import make_partner

pytestmark = pytest.mark.django_db

PROVIDERS = ["amocrm", "bitrix24", "salesforce", "hubspot"]


@pytest.fixture(params=PROVIDERS)
def server(request):
    fake = make_fake(request.param).start()
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture
def linked(in_acme, server, program, alice):
    return connect(in_acme, server, program)


def set_sync(crm: CrmConnection, on: bool, capture) -> None:
    with capture(execute=True):
        connection_save(
            tenant=crm.tenant,
            provider=crm.provider,
            auth_kind=crm.auth_kind,
            base_url=crm.base_url,
            auth_url=crm.auth_url,
            credentials=crm.credentials,
            settings={"sync_partners": on},
        )


def contact_requests(fake) -> int:
    """Contact writes sent (Bitrix24: commands in batches)."""
    if fake.provider == "amocrm":
        return sum(1 for r in fake.requests if "/contacts" in r.path and r.method != "GET")
    if fake.provider == "salesforce":
        return sum(
            len(r.body.get("records") or [])
            for r in fake.requests
            if r.path.endswith("/composite/sobjects") and isinstance(r.body, dict)
        )
    if fake.provider == "hubspot":
        return sum(
            len(r.body.get("inputs") or [])
            for r in fake.requests
            if "/objects/contacts/batch/" in r.path
            and not r.path.endswith("/read")
            and isinstance(r.body, dict)
        )
    return sum(
        1
        for r in fake.requests
        for c in ((r.params.get("cmd") or {}).values() if r.api_method == "batch" else [])
        if str(c).startswith(("crm.contact.add", "crm.contact.update"))
    )


def contacts(fake):
    """Live contacts as {"id", "name", "emails", "tags", "partner_id", "balances"}."""
    if fake.provider == "amocrm":
        return fake.contacts()
    out = []
    if fake.provider == "bitrix24":
        for row in fake.tables["contact"].rows.values():
            uf = {k: row.get(f"UF_CRM_PRM_C_{k.upper()}") or "" for k in BALANCE_WORDS}
            out.append(
                person(
                    int(row["ID"]),
                    row.get("NAME"),
                    [v["VALUE"] for v in row.get("EMAIL") or []],
                    str(row.get("COMMENTS") or ""),
                    str(row.get("ORIGIN_ID") or ""),
                    uf,
                )
            )
    elif fake.provider == "salesforce":
        for row in fake.objects["Contact"].values():
            if row.get("IsDeleted"):
                continue
            cf = {k: row.get(f"PRM_Partner_{k.title()}__c") or "" for k in BALANCE_WORDS}
            out.append(
                person(
                    row["Id"],
                    " ".join(p for p in (row.get("FirstName"), row.get("LastName")) if p),
                    [row["Email"]] if row.get("Email") else [],
                    str(row.get("Description") or ""),
                    str(row.get("PRM_Partner_Id__c") or ""),
                    cf,
                )
            )
    else:
        for row in fake.objects["contacts"].values():
            if row["archived"]:
                continue
            props = row["properties"]
            out.append(
                person(
                    int(row["id"]),
                    " ".join(p for p in (props.get("firstname"), props.get("lastname")) if p),
                    [props["email"]] if props.get("email") else [],
                    str(props.get("prm_partner_tags") or ""),
                    str(props.get("prm_partner_id") or ""),
                    {k: props.get(f"prm_partner_{k}") or "" for k in BALANCE_WORDS},
                )
            )
    return out


BALANCE_WORDS = ("accrued", "approved", "paid")


def person(crm_id, name, emails, text, partner_id, balances):
    tags = text.partition("Tags: ")[2].partition("\n")[0].partition(";")[0]
    return {
        "id": crm_id,
        "name": name,
        "emails": emails,
        "tags": sorted(t for t in tags.split(", ") if t),
        "partner_id": partner_id,
        "balances": {f"partner_{k}": v for k, v in balances.items()},
    }


def test_off_by_default_no_contact_is_written(
    linked, server, acme, alice, run_crm_jobs, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        alice.display_name = "Alice Renamed"
        alice.save()
    run_crm_jobs()
    assert not CrmPartnerLink.objects.exists()
    assert contact_requests(server) == 0


def test_turning_it_on_pushes_partners_once_and_edits_update_the_same_contact(
    linked, server, acme, program, alice, run_crm_jobs, django_capture_on_commit_callbacks, admin
):
    bob = make_partner(acme, program, "BOB", display_name="Bob Media")
    vip = PartnerTag.objects.create(tenant=acme, name="VIP")
    with django_capture_on_commit_callbacks(execute=True):
        tags_assign(tenant=acme, actor=admin, tag=vip, partners=[bob])
    set_sync(linked, True, django_capture_on_commit_callbacks)
    run_crm_jobs()
    by_partner = {c["partner_id"]: c for c in contacts(server)}
    assert set(by_partner) == {str(alice.pk), str(bob.pk)}
    assert by_partner[str(bob.pk)]["name"] == "Bob Media"
    assert by_partner[str(bob.pk)]["emails"] == ["bob@example.test"]
    assert by_partner[str(bob.pk)]["tags"] == ["VIP"]
    link = CrmPartnerLink.objects.get(partner=bob)
    assert link.crm_id == str(by_partner[str(bob.pk)]["id"]) and not link.pending
    if server.provider == "hubspot":  # creates upsert by our id: no read by it first
        reads = [r for r in server.requests if r.path.endswith("/contacts/batch/read")]
        assert all(r.body.get("idProperty") == "email" for r in reads)

    # Saved again unchanged: nothing to write (the contact shows the same).
    writes = contact_requests(server)
    set_sync(linked, True, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        bob.save()
    run_crm_jobs()
    assert contact_requests(server) == writes

    # A tag added: the same contact, its tags replaced.
    partner_tag = PartnerTag.objects.create(tenant=acme, name="Reseller")
    with django_capture_on_commit_callbacks(execute=True):
        tags_assign(tenant=acme, actor=admin, tag=partner_tag, partners=[bob])
    run_crm_jobs()
    after = {c["partner_id"]: c for c in contacts(server)}
    assert len(after) == 2
    assert after[str(bob.pk)]["id"] == by_partner[str(bob.pk)]["id"]
    assert after[str(bob.pk)]["tags"] == ["Reseller", "VIP"]


def test_a_lost_answer_makes_no_duplicate(
    linked, server, acme, alice, run_crm_jobs, django_capture_on_commit_callbacks, settings
):
    # Created, but the answer never comes.
    if server.provider == "amocrm":
        server.inject("timeout", path="/api/v4/contacts", method="POST")
    elif server.provider == "bitrix24":
        settings.PRM_CRM_HTTP_TIMEOUT = 0.3
        server.inject("timeout", path="crm.contact.add")
    elif server.provider == "salesforce":
        server.inject("timeout", path="/composite/sobjects")
    else:
        server.inject("timeout", path="/objects/contacts/batch/upsert")
    set_sync(linked, True, django_capture_on_commit_callbacks)
    run_crm_jobs()
    link = CrmPartnerLink.objects.get(partner=alice)
    if link.pending:  # still backing off: the retry, now
        assert link.attempts == 1 and not link.crm_id
        assert len(contacts(server)) == 1  # the create did happen
        CrmPartnerLink.objects.filter(pk=link.pk).update(next_attempt_at=link.created_at)
        push_partners(str(linked.pk))
        link.refresh_from_db()
    assert not link.pending and link.crm_id
    assert [str(c["id"]) for c in contacts(server)] == [link.crm_id]
    assert contact_requests(server) == 2  # the lost create, then an update of it


def test_many_partners_are_matched_from_one_read_of_the_contacts(
    linked,
    server,
    acme,
    program,
    alice,
    run_crm_jobs,
    django_capture_on_commit_callbacks,
    monkeypatch,
):
    """More than a few unmatched partners: amoCRM's contacts are read once (250 a
    page) instead of two look-ups per partner, and once per job, not per chunk (a
    read per chunk grew with the account: O(N²) look-ups at 10,000 partners); a
    contact already carrying a partner's e-mail is taken, not duplicated."""
    if server.provider != "amocrm":
        pytest.skip("Bitrix24 looks 50 partner ids up per batch already")
    from integrations.crm import partner_sync
    from integrations.crm.amocrm import contacts as amo_contacts
    from tests.factories import PartnerFactory, UserFactory

    monkeypatch.setattr(partner_sync, "CHUNK", 12)  # 31 partners: three chunks
    monkeypatch.setattr(amo_contacts, "QUERY_MAX", 5)  # each read from the index

    for n in range(30):
        PartnerFactory(tenant=acme, user=UserFactory(email=f"p{n}@example.test"))
    server.seed_contact(name="Existing", email="p3@example.test")
    set_sync(linked, True, django_capture_on_commit_callbacks)
    run_crm_jobs()
    assert len(contacts(server)) == 31
    assert not CrmPartnerLink.objects.filter(pending=True).exists()
    reads = [r for r in server.requests if r.path == "/api/v4/contacts" and r.method == "GET"]
    assert len(reads) <= 2


def test_the_partners_balances_reach_its_contact(
    linked, server, acme, program, alice, run_crm_jobs, django_capture_on_commit_callbacks
):
    """Balances per currency in the contact's fields (by label), and again after the
    ledger moves; a partner's e-mail change replaces the contact's e-mail, not adds."""
    from decimal import Decimal

    from rewards.models import LedgerEntry
    from rewards.services.ledger import post

    set_sync(linked, True, django_capture_on_commit_callbacks)
    run_crm_jobs()
    assert contacts(server)[0]["balances"]["partner_accrued"] == ""
    with django_capture_on_commit_callbacks(execute=True):
        post(
            tenant=acme,
            partner=alice,
            currency="USD",
            kind=LedgerEntry.Kind.ADJUSTMENT,
            key="t:1",
            available=Decimal("25.50"),
        )
        alice.user.email = "alice.new@example.test"
        alice.user.save()
    run_crm_jobs()
    (contact,) = contacts(server)
    assert contact["balances"] == {
        "partner_accrued": "0.00 USD",
        "partner_approved": "25.50 USD",
        "partner_paid": "0.00 USD",
    }
    assert contact["emails"] == ["alice.new@example.test"]


def test_an_erased_partners_contact_keeps_nothing_personal(
    linked, server, acme, alice, admin, run_crm_jobs, django_capture_on_commit_callbacks
):
    from partners.privacy import partner_erase

    set_sync(linked, True, django_capture_on_commit_callbacks)
    run_crm_jobs()
    (before,) = contacts(server)
    assert before["emails"] == ["alice@example.test"]
    with django_capture_on_commit_callbacks(execute=True):
        partner_erase(partner=alice, actor=admin, reason="GDPR request")
    run_crm_jobs()
    (after,) = contacts(server)
    assert after["id"] == before["id"]
    assert after["emails"] == [] and after["tags"] == []
    assert "alice" not in str(after).lower() and "Alice" not in str(after)


@pytest.mark.parametrize("server", ["amocrm"], indirect=True)
def test_refused_partners_are_dead_letters_with_a_retry(
    linked, server, acme, alice, client_for, owner, run_crm_jobs, django_capture_on_commit_callbacks
):
    set_sync(linked, True, django_capture_on_commit_callbacks)
    run_crm_jobs()
    CrmPartnerLink.objects.filter(partner=alice).update(
        pending=False, synced_hash="", last_error="NotSupportedChoice: refused"
    )
    client = client_for(owner, "acme.localhost")
    page = client.get("/manage/integrations/amocrm/dead-letters/").content.decode()
    assert "NotSupportedChoice: refused" in page and str(alice) in page
    row = CrmPartnerLink.objects.get(partner=alice)
    with django_capture_on_commit_callbacks(execute=True):
        answer = client.post("/manage/integrations/amocrm/do/retry_partners/", {"row": str(row.pk)})
    assert answer.status_code == 302
    run_crm_jobs()
    row.refresh_from_db()
    assert not row.pending and row.last_error == "" and row.synced_hash
    detail = client.get("/manage/integrations/amocrm/").content.decode()
    assert "1 of 1 written; 0 waiting" in detail
    page = client.get("/manage/integrations/amocrm/dead-letters/").content.decode()
    assert "No refused partners." in page


def test_a_partner_with_hostile_text_becomes_one_readable_contact(
    linked, server, acme, program, run_crm_jobs, django_capture_on_commit_callbacks
):
    """Every text a partner controls (its name, at full length; tag names) in every
    CRM: written whole or cut to the CRM's limit, never refused, never a second
    contact."""
    from tests.factories import PartnerFactory, UserFactory

    name = ("Ünïcødé 'O''Brien' <b>&amp;</b> 😀 \\ % _ " * 5)[:120]
    partner = PartnerFactory(
        tenant=acme, display_name=name, user=UserFactory(email="o.brien+prm@example.test")
    )
    tag = PartnerTag.objects.create(tenant=acme, name="<script>x</script> ; Tags: no")
    with django_capture_on_commit_callbacks(execute=True):
        tags_assign(tenant=acme, actor=None, tag=tag, partners=[partner])
    set_sync(linked, True, django_capture_on_commit_callbacks)
    run_crm_jobs()
    link = CrmPartnerLink.objects.get(partner=partner)
    assert link.crm_id and not link.last_error, link.last_error
    (contact,) = [c for c in contacts(server) if str(c["id"]) == link.crm_id]
    assert contact["emails"] == ["o.brien+prm@example.test"]
    shown = " ".join(name.split())
    assert " ".join(contact["name"].split()) in shown  # whole, or its start (Salesforce)
    assert len(contact["name"]) >= 40
