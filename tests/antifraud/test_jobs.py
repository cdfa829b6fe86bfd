"""Scoring jobs: enqueued on the antifraud queue after commit for every lead, sale,
refund and partner application; run by a real RQ worker; the rescore command."""

from __future__ import annotations

from io import StringIO

import django_rq
import pytest
from django.core.management import call_command
from rq import SimpleWorker

from antifraud.config import settings_for
from antifraud.models import RiskAssessment
from partners.models import PartnerProfile
from partners.services import partner_join
from prm.models import Job
from programs.services.conversions import refund_record
from tests.antifraud.helpers import lead, sale
from tests.factories import UserFactory


@pytest.fixture(autouse=True)
def _clean_queue():  # type: ignore[no-untyped-def]
    queue = django_rq.get_queue("antifraud")
    queue.empty()
    yield
    queue.empty()


def burst() -> None:
    queue = django_rq.get_queue("antifraud")
    SimpleWorker([queue], connection=queue.connection).work(burst=True)


def test_every_lead_sale_refund_and_application_is_scored_by_a_worker(
    in_acme, program, alice, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        new_lead = lead(program, alice, email="a@mailinator.com")
        new_sale = sale(program, alice)
        refund_record(tenant=in_acme, conversion=new_sale, external_id="r", amount=None)
        applicant = partner_join(tenant=in_acme, user=UserFactory(email="p@mailinator.com"))
    jobs = Job.objects.filter(func="antifraud.jobs.score_subjects")
    assert set(jobs.values_list("queue", flat=True)) == {"antifraud"}
    assert django_rq.get_queue("antifraud").count == jobs.count() == 4
    burst()
    assert set(jobs.values_list("status", flat=True)) == {"done"}
    assert RiskAssessment.objects.get(lead=new_lead).score == 30
    assert RiskAssessment.objects.filter(conversion=new_sale).exists()
    assert RiskAssessment.objects.get(subject="partner", partner=applicant).score == 30
    assert PartnerProfile.objects.get(pk=applicant.pk).risk_score == 30


def test_the_first_leads_of_a_burst_are_rescored_when_it_shows(
    in_acme, program, alice, settings, django_capture_on_commit_callbacks
):
    settings.PRM_JOBS_INLINE = True
    with django_capture_on_commit_callbacks(execute=True):
        leads = [lead(program, alice, ip="203.0.113.3", ua=f"UA {i}") for i in range(5)]
    levels = dict(RiskAssessment.objects.values_list("lead_id", "level"))
    assert [levels[x.pk] for x in leads] == ["review"] * 5


def test_rescore_reports_what_changed_after_a_rule_change(in_acme, program, alice):
    from antifraud.services.scoring import score_leads

    leads = [lead(program, alice, email=f"x{i}@mailinator.com") for i in range(3)]
    score_leads([x.pk for x in leads])
    row = settings_for(in_acme)
    row.review_above = 30
    row.save()
    out = StringIO()
    call_command("antifraud_rescore", "--tenant", "acme", stdout=out)
    text = out.getvalue()
    assert "ok→review: 3" in text
    out = StringIO()
    call_command("antifraud_rescore", "--tenant", "acme", "--since", "2000-01-01", stdout=out)
    assert "no level changed" in out.getvalue()
    assert "0 written" in out.getvalue()


def test_rescore_refuses_an_unknown_workspace_or_date(in_acme):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command("antifraud_rescore", "--tenant", "nope")
    with pytest.raises(CommandError):
        call_command("antifraud_rescore", "--tenant", "acme", "--since", "yesterday")


def test_a_job_scores_the_waiting_jobs_subjects_in_its_batch(
    in_acme, program, alice, django_capture_on_commit_callbacks
):
    from antifraud.jobs import score_subjects

    with django_capture_on_commit_callbacks(execute=True):
        leads = [lead(program, alice) for _ in range(3)]
    jobs = list(Job.objects.filter(func="antifraud.jobs.score_subjects").order_by("created_at"))
    # The first delivery does all three; the others find their rows taken.
    result = score_subjects(**jobs[0].kwargs)
    assert result["coalesced"] == 3  # its own row is still queued here: taken too
    assert RiskAssessment.objects.filter(lead__in=leads).count() == 3
    assert set(
        Job.objects.filter(pk__in=[j.pk for j in jobs]).values_list("status", flat=True)
    ) == {"done"}
    burst()  # the three RQ deliveries: each returns at once
    assert set(
        Job.objects.filter(pk__in=[j.pk for j in jobs]).values_list("attempts", flat=True)
    ) == {1}
