"""Automatic segments: the job tags exactly who matches (near misses stay out), untags
who no longer does, leaves tags set by hand alone, and audits each change; the preview;
the form's errors."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from partners.models import PartnerProfile, PartnerSegment, PartnerTag, PartnerTagging
from partners.segments import segment_apply, segments_run_all
from prm.jobs import run_periodic
from prm.models import AuditEntry
from prm.tenancy import tenant_scope
from rewards.models import PartnerGroup
from tests.factories import PartnerFactory, UserFactory
from tests.programs.factories import (
    ClickFactory,
    ConversionFactory,
    EnrollmentFactory,
    ProgramFactory,
)

NOW = timezone.now


def make(tenant, name: str, **fields):  # type: ignore[no-untyped-def]
    return PartnerFactory(
        tenant=tenant, display_name=name, user=UserFactory(email=f"{name}@x.test"), **fields
    )


def segment(tenant, **fields) -> PartnerSegment:  # type: ignore[no-untyped-def]
    with tenant_scope(tenant):
        tag = PartnerTag.objects.create(tenant=tenant, name=fields.pop("tag_name", "Seg"))
        return PartnerSegment.objects.create(tenant=tenant, name="S", tag=tag, **fields)


def tagged(tenant, seg: PartnerSegment) -> list[str]:  # type: ignore[no-untyped-def]
    with tenant_scope(tenant):
        return sorted(
            PartnerProfile.objects.filter(taggings__tag=seg.tag).values_list(
                "display_name", flat=True
            )
        )


def apply(tenant, seg: PartnerSegment) -> dict[str, int]:  # type: ignore[no-untyped-def]
    with tenant_scope(tenant):
        return segment_apply(tenant=tenant, segment=seg)


def clicks(program, partner, n: int, days_ago: float) -> None:  # type: ignore[no-untyped-def]
    with tenant_scope(partner.tenant):
        enrollment = partner.enrollments.filter(program=program).first()
    enrollment = enrollment or EnrollmentFactory(program=program, partner=partner)
    for _ in range(n):
        ClickFactory(enrollment=enrollment, created_at=NOW() - timedelta(days=days_ago))


def test_no_click_in_60_days_tags_exactly_the_quiet_partners(acme):
    program = ProgramFactory(tenant=acme)
    quiet, old, recent = make(acme, "quiet"), make(acme, "old"), make(acme, "recent")
    clicks(program, old, 1, days_ago=61)
    clicks(program, recent, 1, days_ago=59)  # the near miss
    seg = segment(acme, metric="clicks", comparison="eq", value=0, period_days=60)
    assert apply(acme, seg) == {"matched": 2, "added": 2, "removed": 0}
    assert tagged(acme, seg) == ["old", "quiet"]
    # quiet clicks now: the next run takes the tag away again, and only that one.
    clicks(program, quiet, 1, days_ago=0)
    assert apply(acme, seg) == {"matched": 1, "added": 0, "removed": 1}
    assert tagged(acme, seg) == ["old"]
    actions = sorted(
        AuditEntry.all_tenants_unscoped.filter(action__startswith="partner.tag").values_list(
            "action", "object_id"
        )
    )
    assert actions == sorted(
        [
            ("partner.tag_add", str(old.pk)),
            ("partner.tag_add", str(quiet.pk)),
            ("partner.tag_remove", str(quiet.pk)),
        ]
    )
    assert apply(acme, seg) == {"matched": 1, "added": 0, "removed": 0}  # converged


def test_a_tag_set_by_hand_is_not_taken_away(acme):
    program = ProgramFactory(tenant=acme)
    busy = make(acme, "busy")
    clicks(program, busy, 1, days_ago=1)
    seg = segment(acme, metric="clicks", comparison="eq", value=0, period_days=60)
    with tenant_scope(acme):
        PartnerTagging.objects.create(tenant=acme, partner=busy, tag=seg.tag)
    apply(acme, seg)
    assert tagged(acme, seg) == ["busy"]


def test_revenue_in_the_top_10_percent(acme):
    program = ProgramFactory(tenant=acme)
    partners = [make(acme, f"p{n:02d}") for n in range(1, 11)]
    for n, partner in enumerate(partners, start=1):
        ConversionFactory(program=program, partner=partner, amount=Decimal(n * 100))
    # The best one's revenue is old: outside the 30 days it does not count.
    ConversionFactory(
        program=program,
        partner=partners[0],
        amount=Decimal("99999"),
        occurred_at=NOW() - timedelta(days=31),
    )
    seg = segment(acme, metric="revenue", comparison="top_percent", value=10, period_days=30)
    apply(acme, seg)
    assert tagged(acme, seg) == ["p10"]  # p09, the near miss, stays out
    seg.value = 20
    seg.save()
    apply(acme, seg)
    assert tagged(acme, seg) == ["p09", "p10"]


def test_conversion_rate_below_1_percent_with_at_least_100_clicks(acme):
    program = ProgramFactory(tenant=acme)
    low, good, few = make(acme, "low"), make(acme, "good"), make(acme, "few")
    clicks(program, low, 100, days_ago=1)
    clicks(program, good, 100, days_ago=1)
    clicks(program, few, 99, days_ago=1)  # no conversions, but too few clicks
    ConversionFactory(program=program, partner=good)  # exactly 1 %: not below
    seg = segment(
        acme, metric="conversion_rate", comparison="lt", value=1, period_days=30, min_clicks=100
    )
    apply(acme, seg)
    assert tagged(acme, seg) == ["low"]


def test_joined_in_the_last_7_days_and_country(acme):
    make(acme, "fresh", country="RU")
    older = make(acme, "older", country="DE")
    PartnerProfile.all_tenants_unscoped.filter(pk=older.pk).update(
        created_at=NOW() - timedelta(days=8)
    )
    joined = segment(acme, metric="joined_days", comparison="lte", value=7)
    apply(acme, joined)
    assert tagged(acme, joined) == ["fresh"]
    russia = segment(acme, metric="country", comparison="eq", country="RU", tag_name="RU")
    apply(acme, russia)
    assert tagged(acme, russia) == ["fresh"]


def test_a_group_segment_moves_matching_partners_into_the_group(acme):
    ru, de = make(acme, "ru", country="RU"), make(acme, "de", country="DE")
    with tenant_scope(acme):
        group = PartnerGroup.objects.create(tenant=acme, name="Russia")
        seg = PartnerSegment.objects.create(
            tenant=acme, name="RU", metric="country", comparison="eq", country="RU", group=group
        )
    apply(acme, seg)
    with tenant_scope(acme):
        assert list(PartnerProfile.objects.filter(group=group)) == [ru]
    assert AuditEntry.all_tenants_unscoped.filter(action="partner.group").count() == 1
    assert de.group_id is None


def test_the_periodic_run_applies_each_tenants_segments_in_its_own_scope(acme, globex):
    mine, theirs = make(acme, "mine", country="RU"), make(globex, "theirs", country="RU")
    a = segment(acme, metric="country", comparison="eq", country="RU")
    g = segment(globex, metric="country", comparison="eq", country="RU")
    run_periodic("partners.segments.segments_run_all")
    assert tagged(acme, a) == ["mine"] and tagged(globex, g) == ["theirs"]
    assert segments_run_all() == 2
    assert mine.pk != theirs.pk


# The console


def test_the_preview_shows_who_matches_and_saves_nothing(client_for, acme, owner):
    make(acme, "ivan", country="RU")
    make(acme, "hans", country="DE")
    with tenant_scope(acme):
        tag = PartnerTag.objects.create(tenant=acme, name="RU")
    data = {
        "name": "Russia",
        "metric": "country",
        "comparison": "eq",
        "country": "ru",
        "tag": str(tag.pk),
        "is_active": "on",
        "min_clicks": "0",
        "preview": "1",
    }
    client = client_for(owner)
    response = client.post("/manage/segments/new/", data)
    assert response.status_code == 200
    assert response.context["preview_count"] == 1
    assert [p.display_name for p in response.context["preview_first"]] == ["ivan"]
    with tenant_scope(acme):
        assert not PartnerSegment.objects.exists()
    del data["preview"]
    assert client.post("/manage/segments/new/", data).status_code == 302
    with tenant_scope(acme):
        assert PartnerSegment.objects.get().country == "RU"
    assert AuditEntry.all_tenants_unscoped.filter(action="partner_segment.save").count() == 1


def test_bad_segments_get_form_errors(client_for, acme, owner):
    client = client_for(owner)
    response = client.post(
        "/manage/segments/new/",
        {
            "name": "x",
            "metric": "revenue",
            "comparison": "top_percent",
            "value": "150",
            "min_clicks": "0",
        },
    )
    errors = response.context["form"].errors
    assert {"tag", "value", "period_days"} <= set(errors)
    response = client.post(
        "/manage/segments/new/",
        {
            "name": "x",
            "metric": "country",
            "comparison": "gte",
            "country": "Russia",
            "min_clicks": "0",
        },
    )
    assert {"comparison", "country"} <= set(response.context["form"].errors)


def test_a_manager_cannot_make_a_segment_that_moves_partners_between_groups(
    client_for, acme, manager
):
    with tenant_scope(acme):
        group = PartnerGroup.objects.create(tenant=acme, name="Gold")
    response = client_for(manager).post(
        "/manage/segments/new/",
        {
            "name": "x",
            "metric": "country",
            "comparison": "eq",
            "country": "RU",
            "group": str(group.pk),
            "min_clicks": "0",
        },
    )
    assert response.status_code == 200
    assert "group" not in response.context["form"].fields
    assert "tag" in response.context["form"].errors


def test_another_tenants_segment_is_a_404(client_for, acme, globex, owner):
    theirs = segment(globex, metric="country", comparison="eq", country="RU")
    client = client_for(owner)
    assert client.get(f"/manage/segments/{theirs.pk}/").status_code == 404
    assert client.post(f"/manage/segments/{theirs.pk}/run/").status_code == 404
