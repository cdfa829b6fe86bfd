"""Large exports run as RQ jobs (a real burst worker here): the list's URL sends the
browser to a progress page, the job writes the file into stored chunks, the page then
links the download; the file keeps its list's permission and expires."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from prm.dataio.exports import prune_expired_exports
from prm.dataio.models import ExportChunk, ExportFile
from prm.models import AuditEntry
from prm.tenancy import tenant_scope
from tests.dataio.conftest import MARK, content_of, parse


@pytest.fixture
def small_limit(settings):  # type: ignore[no-untyped-def]
    settings.PRM_EXPORT_STREAM_ROWS = 1


def start(client, url: str, django_capture_on_commit_callbacks, run_jobs) -> str:  # type: ignore[no-untyped-def]
    with django_capture_on_commit_callbacks(execute=True):
        response = client.get(url)
    assert response.status_code == 302
    location = response["Location"]
    assert location.startswith("/manage/exports/")
    run_jobs()
    return location


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "json"])
def test_a_large_export_is_written_by_a_job_and_then_downloaded(
    client_for,
    money,
    globex_rows,
    owner,
    small_limit,
    django_capture_on_commit_callbacks,
    run_jobs,
    fmt,
):
    client = client_for(owner)
    page = start(
        client,
        f"/manage/conversions/export/?format={fmt}",
        django_capture_on_commit_callbacks,
        run_jobs,
    )
    html = client.get(page).content.decode()
    assert 'id="export-download"' in html
    with tenant_scope(money.tenant):
        export = ExportFile.objects.get()
        assert export.status == ExportFile.Status.DONE
        assert export.total == 4 and export.size > 0
        assert AuditEntry.objects.filter(action="export.job").count() == 1
    response = client.get(f"{page}download/")
    assert response.status_code == 200
    body = content_of(response)
    assert MARK.encode() not in body
    rows = parse(body, fmt)
    assert sorted(float(r["amount"]) for r in rows) == [300.0, 500.0, 1000.0, 2000.0]


def test_the_job_honours_the_filters_it_was_given(
    client_for, money, owner, small_limit, django_capture_on_commit_callbacks, run_jobs
):
    client = client_for(owner)
    page = start(
        client,
        f"/manage/rewards/export/?format=csv&partner={money.alice.pk}",
        django_capture_on_commit_callbacks,
        run_jobs,
    )
    rows = parse(content_of(client.get(f"{page}download/")), "csv")
    assert rows and {r["partner"] for r in rows} == {"alice@example.test"}


def test_a_file_is_written_in_chunks_of_a_megabyte(settings, money, owner, acme):
    from prm.dataio.exports import CHUNK_BYTES, store_chunks

    with tenant_scope(acme):
        export = ExportFile.objects.create(
            tenant=acme,
            source="leads",
            perm="leads.view",
            format="csv",
            filename="leads.csv",
            expires_at=timezone.now() + timedelta(days=1),
        )
        import io

        size = store_chunks(export, io.BytesIO(b"x" * (CHUNK_BYTES * 2 + 10)))
        assert size == CHUNK_BYTES * 2 + 10
        assert ExportChunk.objects.filter(export=export).count() == 3


def test_the_progress_page_refreshes_while_the_job_runs(
    client_for, money, owner, small_limit, django_capture_on_commit_callbacks
):
    client = client_for(owner)
    with django_capture_on_commit_callbacks(execute=False):
        page = client.get("/manage/leads/export/?format=csv")["Location"]
    html = client.get(page).content.decode()
    assert 'http-equiv="refresh"' in html and 'id="export-progress"' in html
    assert client.get(f"{page}download/").status_code == 302  # not ready: back to the page
    # asking again while it is being written goes to the same export
    again = client.get("/manage/leads/export/?format=csv")["Location"]
    assert again == page
    assert ExportFile.all_tenants_unscoped.count() == 1


def test_a_money_file_needs_money_rights_and_stays_in_its_tenant(
    client_for,
    money,
    owner,
    manager,
    analyst,
    outsider,
    small_limit,
    django_capture_on_commit_callbacks,
    run_jobs,
):
    page = start(
        client_for(owner),
        "/manage/rewards/export/?format=csv",
        django_capture_on_commit_callbacks,
        run_jobs,
    )
    assert client_for(manager).get(page).status_code == 403
    assert client_for(manager).get(f"{page}download/").status_code == 403
    assert client_for(analyst).get(f"{page}download/").status_code == 200
    assert client_for(outsider).get(page).status_code == 404
    assert client_for(outsider, "globex.localhost").get(f"{page}download/").status_code == 404


def test_expired_files_are_refused_then_pruned(
    client_for, money, owner, small_limit, django_capture_on_commit_callbacks, run_jobs
):
    client = client_for(owner)
    page = start(
        client, "/manage/leads/export/?format=csv", django_capture_on_commit_callbacks, run_jobs
    )
    ExportFile.all_tenants_unscoped.update(expires_at=timezone.now() - timedelta(minutes=1))
    assert client.get(f"{page}download/").status_code == 302
    assert "expired" in client.get(page).content.decode()
    assert prune_expired_exports() == 2  # the file and its chunk
    assert not ExportChunk.all_tenants_unscoped.exists()
