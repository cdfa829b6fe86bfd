"""Imports: upload → dry run with a preview and row errors → confirm; all or nothing;
bad files refused whole; large files as jobs; conversions attributed and accrued like
API ones; imported partners invited; the example files import cleanly."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile

from partners.models import PartnerProfile
from prm.dataio.models import ImportBatch
from prm.models import AuditEntry
from prm.tenancy import tenant_scope
from programs.models import Conversion, Enrollment, Lead
from rewards.models import Reward
from tests.rewards.helpers import D, make_partner, make_program, rule

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"


def upload(client, kind: str, name: str, content: bytes, invite: bool = False):  # type: ignore[no-untyped-def]
    data = {"file": SimpleUploadedFile(name, content)}
    if invite:
        data["invite"] = "on"
    return client.post(f"/manage/{kind}/import/", data)


def checked(client, kind: str, name: str, content: bytes, **kw) -> ImportBatch:  # type: ignore[no-untyped-def]
    response = upload(client, kind, name, content, **kw)
    assert response.status_code == 302, response.content.decode()[:2000]
    return ImportBatch.all_tenants_unscoped.get(pk=response["Location"].rstrip("/").split("/")[-1])


def confirm(client, batch: ImportBatch) -> ImportBatch:  # type: ignore[no-untyped-def]
    response = client.post(f"/manage/{batch.kind}/import/{batch.pk}/confirm/")
    assert response.status_code == 302
    batch.refresh_from_db()
    return batch


@pytest.fixture
def program(acme):  # type: ignore[no-untyped-def]
    with tenant_scope(acme):
        program = make_program(acme, name="Referral program", hold_days=0)
        rule(program, value=D("10"))
    return program


def counts(tenant) -> tuple[int, int, int]:  # type: ignore[no-untyped-def]
    with tenant_scope(tenant):
        return PartnerProfile.objects.count(), Lead.objects.count(), Conversion.objects.count()


def test_the_example_files_import_cleanly_and_go_through_attribution_and_accrual(
    client_for, acme, admin, program, django_capture_on_commit_callbacks, run_jobs
):
    client = client_for(admin)
    files = [
        ("partners", "partners.csv"),
        ("partners", "partners.xlsx"),
        ("leads", "leads.csv"),
        ("conversions", "conversions.csv"),
    ]
    for kind, name in files:
        batch = checked(client, kind, name, (EXAMPLES / name).read_bytes(), invite=True)
        assert batch.status == ImportBatch.Status.CHECKED, batch.result
        assert batch.result["error_count"] == 0
        with django_capture_on_commit_callbacks(execute=True):
            batch = confirm(client, batch)
        assert batch.status == ImportBatch.Status.DONE, batch.result
        run_jobs()
    with tenant_scope(acme):
        maria = PartnerProfile.objects.get(user__email="maria.lopez@example.com")
        tom = PartnerProfile.objects.get(user__email="tom.becker@example.com")
        assert Enrollment.objects.get(partner=maria).code == "MARIA"
        assert PartnerProfile.objects.get(user__email="sara.okafor@example.com").status == "pending"
        assert Lead.objects.get(external_id="CRM-1001").partner == maria
        assert Lead.objects.get(external_id="CRM-1003").partner is None
        assert Lead.objects.get(external_id="CRM-1003").status == "contacted"
        by_order = {c.external_id: c for c in Conversion.objects.all()}
        assert by_order["ORDER-5001"].partner == maria  # through the customer's lead
        assert by_order["ORDER-5002"].partner == tom
        assert by_order["ORDER-5003"].partner == tom  # through the referral code
        assert Lead.objects.get(external_id="CRM-1001").status == "converted"
        # The accrual job ran for each, as for an API conversion: 10% rewards.
        rewards = dict(
            Reward.objects.filter(kind="conversion").values_list(
                "conversion__external_id", "amount"
            )
        )
        assert rewards == {
            "ORDER-5001": D("120.00"),
            "ORDER-5002": D("4.90"),
            "ORDER-5003": D("30.00"),
        }
        assert AuditEntry.objects.filter(action__startswith="import.").count() == 4
    invited = sorted(m.to[0] for m in mail.outbox)
    assert invited == [
        "li.wei@example.com",
        "maria.lopez@example.com",
        "sara.okafor@example.com",
        "tom.becker@example.com",
    ]
    assert "/accounts/password/reset/" in mail.outbox[0].body


def test_the_dry_run_saves_nothing_and_previews_each_row(client_for, acme, admin, program):
    with tenant_scope(acme):
        make_partner(acme, program, "OLD", display_name="Old name")
    content = b"email,name,company\nold@example.test,New name,\nnew@example.test,Newcomer,Co\n"
    batch = checked(client_for(admin), "partners", "p.csv", content)
    assert batch.status == ImportBatch.Status.CHECKED
    assert (batch.result["new"], batch.result["update"]) == (1, 1)
    assert [r["action"] for r in batch.result["preview"]] == ["update", "new"]
    assert batch.result["preview"][0]["changes"] == ["name: Old name → New name"]
    with tenant_scope(acme):
        assert PartnerProfile.objects.get(user__email="old@example.test").display_name == "Old name"
        assert not PartnerProfile.objects.filter(user__email="new@example.test").exists()
    html = client_for(admin).get(f"/manage/partners/import/{batch.pk}/").content.decode()
    assert 'id="import-preview"' in html and "Newcomer" in html and 'id="import-confirm"' in html


def test_a_file_with_a_bad_row_shows_row_errors_and_imports_nothing(
    client_for, acme, admin, program
):
    before = counts(acme)
    content = (
        b"program,name,email,partner\n"
        b"Referral program,Good,good@example.org,\n"
        b"No such program,Bad,bad@example.org,\n"
        b"Referral program,Nobody,,\n"
        b"Referral program,Stranger,s@example.org,stranger@example.test\n"
    )
    client = client_for(admin)
    batch = checked(client, "leads", "leads.csv", content)
    assert batch.status == ImportBatch.Status.INVALID
    lines = sorted({e["line"] for e in batch.result["errors"]})
    assert lines == [3, 4, 5]
    messages = " ".join(e["message"] for e in batch.result["errors"])
    assert "No program “No such program”" in messages
    assert "at least an e-mail" in messages
    assert counts(acme) == before
    html = client.get(f"/manage/leads/import/{batch.pk}/").content.decode()
    assert 'id="import-errors"' in html and 'id="import-confirm"' not in html
    # confirming a file with errors is refused
    assert confirm(client, batch).status == ImportBatch.Status.INVALID
    assert counts(acme) == before


def test_a_row_that_fails_only_at_import_rolls_the_whole_file_back(
    client_for, acme, admin, program
):
    content = b"program,order_id,amount\nReferral program,A-1,10.00\nReferral program,A-2,20.00\n"
    client = client_for(admin)
    batch = checked(client, "conversions", "c.csv", content)
    assert batch.status == ImportBatch.Status.CHECKED
    # Meanwhile the API records A-2 with another amount: the file's row now conflicts.
    from programs.services.conversions import ConversionInput, conversion_record

    with tenant_scope(acme):
        conversion_record(
            tenant=acme, program=program, data=ConversionInput("A-2", D("99.00"), "USD")
        )
    batch = confirm(client, batch)
    assert batch.status == ImportBatch.Status.FAILED
    assert batch.result["errors"][0]["line"] == 3
    with tenant_scope(acme):
        assert list(Conversion.objects.values_list("external_id", flat=True)) == ["A-2"]
        assert not AuditEntry.objects.filter(action__startswith="import.").exists()


def test_an_order_already_recorded_is_left_as_it_is(client_for, acme, admin, program):
    from programs.services.conversions import ConversionInput, conversion_record

    with tenant_scope(acme):
        conversion_record(
            tenant=acme, program=program, data=ConversionInput("B-1", D("5.00"), "USD")
        )
    content = b"program,order_id,amount,currency\nReferral program,B-1,5.00,USD\n"
    batch = checked(client_for(admin), "conversions", "c.csv", content)
    assert (batch.status, batch.result["skip"], batch.result["new"]) == ("checked", 1, 0)


BAD_FILES = [
    (
        "missing-column",
        "leads",
        "l.csv",
        b"name,email\nAnn,ann@example.org\n",
        "Columns missing: program",
    ),
    (
        "unknown-column",
        "partners",
        "p.csv",
        b"email,salary\na@example.test,1\n",
        "Unknown columns: salary",
    ),
    (
        "latin-1",
        "partners",
        "p.csv",
        "email,name\nz@example.test,Zoë\n".encode("latin-1"),
        "not UTF-8",
    ),
    (
        "duplicate-keys",
        "partners",
        "p.csv",
        b"email\na@example.test\nb@example.test\nA@example.test\n",
        "appears more than once",
    ),
    (
        "duplicate-orders",
        "conversions",
        "c.csv",
        b"program,order_id,amount\nReferral program,X1,1\nReferral program,X1,2\n",
        "appears more than once",
    ),
    ("no-rows", "partners", "p.csv", b"email\n", "no rows"),
    ("wrong-type", "partners", "p.pdf", b"%PDF-1.4", ".csv or .xlsx"),
    ("broken-xlsx", "partners", "p.xlsx", b"PK\x03\x04 not really", "Excel workbook"),
    ("repeated-column", "partners", "p.csv", b"email,email\na@x.test,b@x.test\n", "named twice"),
]


@pytest.mark.parametrize(
    "kind,name,content,message", [b[1:] for b in BAD_FILES], ids=[b[0] for b in BAD_FILES]
)
def test_a_bad_file_gets_a_clear_message_and_imports_nothing(
    client_for, acme, admin, program, kind, name, content, message
):
    before = counts(acme)
    response = upload(client_for(admin), kind, name, content)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert counts(acme) == before
    assert not ImportBatch.all_tenants_unscoped.exists()


def test_a_50_mb_file_is_refused_before_it_is_read(client_for, acme, admin, program):
    row = b"someone@example.test,Some One,Company\n"
    content = b"email,name,company\n" + row * (50 * 1024 * 1024 // len(row))
    response = upload(client_for(admin), "partners", "big.csv", content)
    assert response.status_code == 200
    assert "larger than 10 MB" in response.content.decode()
    assert not ImportBatch.all_tenants_unscoped.exists()


def test_an_xlsx_that_would_unpack_to_gigabytes_is_refused(client_for, acme, admin, program):
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as bomb:
        bomb.writestr("xl/worksheets/sheet1.xml", b"0" * (300 * 1024 * 1024))
    assert len(buffer.getvalue()) < 1024 * 1024
    response = upload(client_for(admin), "partners", "bomb.xlsx", buffer.getvalue())
    assert "larger than 10 MB" in response.content.decode()
    assert not ImportBatch.all_tenants_unscoped.exists()


def test_old_uploads_are_forgotten(client_for, acme, admin, program):
    from datetime import timedelta

    from django.utils import timezone

    from prm.dataio.imports import prune_old_imports

    batch = checked(client_for(admin), "partners", "p.csv", b"email\na@example.test\n")
    ImportBatch.all_tenants_unscoped.filter(pk=batch.pk).update(
        created_at=timezone.now() - timedelta(days=31)
    )
    assert prune_old_imports() == 1


def test_a_large_file_is_checked_and_imported_by_jobs_with_progress(
    client_for, acme, admin, program, settings, django_capture_on_commit_callbacks, run_jobs
):
    settings.PRM_IMPORT_INLINE_ROWS = 2
    rows = "".join(f"p{n}@example.test,Partner {n}\n" for n in range(5))
    client = client_for(admin)
    with django_capture_on_commit_callbacks(execute=True):
        batch = checked(client, "partners", "p.csv", ("email,name\n" + rows).encode())
    assert batch.status == ImportBatch.Status.CHECKING
    html = client.get(f"/manage/partners/import/{batch.pk}/").content.decode()
    assert 'id="import-progress"' in html and 'http-equiv="refresh"' in html
    run_jobs()
    batch.refresh_from_db()
    assert batch.status == ImportBatch.Status.CHECKED and batch.result["new"] == 5
    with django_capture_on_commit_callbacks(execute=True):
        batch = confirm(client, batch)
    assert batch.status == ImportBatch.Status.IMPORTING
    run_jobs()
    batch.refresh_from_db()
    assert batch.status == ImportBatch.Status.DONE
    assert counts(acme)[0] == 5


def test_imports_follow_each_kinds_permission(
    client_for, acme, program, admin, manager, finance, analyst
):
    content = b"program,order_id,amount\nReferral program,P-1,1\n"
    assert upload(client_for(manager), "conversions", "c.csv", content).status_code == 403
    assert upload(client_for(finance), "leads", "l.csv", b"program,email\n").status_code == 403
    assert upload(client_for(analyst), "partners", "p.csv", b"email\n").status_code == 403
    assert client_for(manager).get("/manage/leads/import/").status_code == 200
    assert client_for(admin).get("/manage/conversions/import/").status_code == 200


def test_an_import_never_reaches_another_tenant(client_for, acme, globex, admin, outsider, program):
    with tenant_scope(globex):
        make_program(globex, name="Globex only")
    batch = checked(
        client_for(admin), "leads", "l.csv", b"program,email\nGlobex only,x@example.org\n"
    )
    assert batch.status == ImportBatch.Status.INVALID  # no such program in acme
    ok = checked(client_for(admin), "partners", "p.csv", b"email\nshared@example.test\n")
    confirm(client_for(admin), ok)
    with tenant_scope(globex):
        assert not PartnerProfile.objects.filter(user__email="shared@example.test").exists()
    # the outsider cannot open or confirm acme's batch, on either host
    assert client_for(outsider).get(f"/manage/partners/import/{ok.pk}/").status_code == 404
    own_host = client_for(outsider, "globex.localhost")
    assert own_host.get(f"/manage/partners/import/{ok.pk}/").status_code == 404
    assert own_host.post(f"/manage/partners/import/{ok.pk}/confirm/").status_code == 404


def test_whoever_confirms_is_the_one_who_imports(client_for, acme, admin, owner, program):
    batch = checked(client_for(admin), "partners", "p.csv", b"email\nnew@example.test\n")
    assert confirm(client_for(owner), batch).status == ImportBatch.Status.DONE
    with tenant_scope(acme):
        entry = AuditEntry.objects.get(action="import.partners")
    assert entry.actor == owner
    assert entry.after["file"] == "p.csv", entry.after
    assert entry.after["new"] == 1, entry.after


def test_a_status_change_goes_through_the_partner_service(client_for, acme, admin, program):
    with tenant_scope(acme):
        make_partner(acme, program, "BLOCKME", display_name="To block")
    content = b"email,status,company\nblockme@example.test,blocked,New Co\n"
    batch = confirm(client_for(admin), checked(client_for(admin), "partners", "p.csv", content))
    assert batch.status == ImportBatch.Status.DONE
    with tenant_scope(acme):
        partner = PartnerProfile.objects.get(user__email="blockme@example.test")
        assert (partner.status, partner.company) == ("blocked", "New Co")
        entry = AuditEntry.objects.get(action="partner.status")
    assert entry.after == {"status": "blocked"} and entry.actor == admin
