"""Reports: figures equal to the raw rows, each figure's link lists exactly the rows
behind it, roles, sorting and paging, other tenants' rows never counted, constant
queries."""

from __future__ import annotations

import re
from html import unescape

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from prm.tenancy import tenant_scope
from programs.analytics.refresh import rollup_drain
from tests.analytics import raw
from tests.analytics.world import build, click
from tests.rewards.helpers import make_partner, sale

REPORTS = [
    "/manage/reports/partners/",
    "/manage/reports/programs/",
    "/manage/reports/channels/?by=utm_source",
    "/manage/reports/channels/?by=kind",
    "/manage/reports/channels/?by=referrer_domain",
    "/manage/reports/quality/",
    "/manage/reports/periods/?by=day",
    "/manage/reports/periods/?by=week",
    "/manage/reports/periods/?by=month",
]


@pytest.fixture
def world(acme, owner, settings):  # type: ignore[no-untyped-def]
    settings.PRM_JOBS_INLINE = True
    return build(acme, owner)


def row_of(response, key: str) -> dict:  # type: ignore[no-untyped-def]
    page = response.context["page"]
    return next(row for row in page.rows if row["k"] == key)


def cell(row: dict, column: str) -> dict:
    return next(c for c in row["cells"] if c["column"] == column)


def listed(client, url: str) -> int:  # type: ignore[no-untyped-def]
    """How many rows the list behind a link shows."""
    response = client.get(unescape(url))
    assert response.status_code == 200, url
    return response.context["page"].paginator.count


def test_the_partner_report_equals_the_raw_rows_of_each_partner(client_for, owner, world):
    response = client_for(owner).get("/manage/reports/partners/")
    for partner in (world.alice, world.bob):
        row = row_of(response, str(partner.pk))
        with tenant_scope(world.tenant):
            expected = raw.figures(partner=partner)
        for key in ("clicks", "visitors", "leads", "conversions", "leads_rejected"):
            assert row[key] == expected[key], (partner, key)
        for key in ("revenue_total", "accrued_total", "approved_total", "paid_total", "epc"):
            assert row[key] == expected[key], (partner, key)
        assert {c: m["revenue"] for c, m in row["money"].items() if m["revenue"]} == {
            c: v for c, v in expected["revenue"].items() if v
        }
    totals = response.context["page"].totals
    with tenant_scope(world.tenant):
        everything = raw.figures()
    assert totals["revenue_total"] == everything["revenue_total"]
    assert totals["leads"] == everything["leads"]


def test_every_linked_figure_lists_exactly_its_rows(client_for, owner, world):
    client = client_for(owner)
    checked = 0
    for url in ["/manage/reports/partners/", "/manage/reports/quality/"]:
        response = client.get(url)
        for row in response.context["page"].rows:
            for c in row["cells"]:
                if c["url"] and c["column"] in {
                    "leads",
                    "leads_converted",
                    "leads_rejected",
                    "leads_duplicate",
                    "leads_flagged",
                    "conversions",
                }:
                    assert listed(client, c["url"]) == row[c["column"]], (url, row["k"], c)
                    checked += 1
                for line in c.get("lines", []):
                    if c["column"] == "revenue_total" and line["url"]:
                        assert listed(client, line["url"]) >= 1
                        checked += 1
    assert checked >= 10


def test_the_quality_report_counts_a_partners_registered_duplicates_and_flags(
    client_for, owner, world
):
    response = client_for(owner).get("/manage/reports/quality/")
    alice = row_of(response, str(world.alice.pk))
    assert (alice["leads"], alice["leads_duplicate"], alice["leads_flagged"]) == (2, 1, 1)
    assert alice["duplicate_rate"] == 50 and alice["flagged_rate"] == 50
    bob = row_of(response, str(world.bob.pk))
    assert (bob["leads"], bob["leads_rejected"], bob["rejection_rate"]) == (1, 1, 100)


def test_the_channel_report_groups_by_utm_source_and_by_referrer(client_for, owner, world):
    client = client_for(owner)
    by_source = client.get("/manage/reports/channels/?by=utm_source")
    assert row_of(by_source, "newsletter")["clicks"] == 3
    assert row_of(by_source, "newsletter")["leads"] == 1  # the lead came by that click
    by_referrer = client.get("/manage/reports/channels/?by=referrer_domain")
    assert row_of(by_referrer, "blog.example")["clicks"] == 1
    by_kind = client.get("/manage/reports/channels/?by=kind")
    assert row_of(by_kind, "registration")["leads"] == 1


def test_the_period_report_sums_to_the_totals(client_for, owner, world):
    for by in ("day", "week", "month"):
        response = client_for(owner).get(f"/manage/reports/periods/?by={by}&period=90d")
        page = response.context["page"]
        assert sum(r["clicks"] for r in page.rows) == page.totals["clicks"] == 5
        assert sum(r["revenue_total"] for r in page.rows) == page.totals["revenue_total"]


def test_filters_sorting_and_search(client_for, owner, world):
    client = client_for(owner)
    by_clicks = client.get("/manage/reports/partners/?sort=-clicks").context["page"].rows
    assert [r["k"] for r in by_clicks][:2] == [str(world.alice.pk), str(world.bob.pk)]
    ascending = client.get("/manage/reports/partners/?sort=clicks").context["page"].rows
    assert ascending[0]["clicks"] <= ascending[-1]["clicks"]
    found = client.get("/manage/reports/partners/?q=bob").context["page"].rows
    assert [r["k"] for r in found] == [str(world.bob.pk)]
    one = client.get(f"/manage/reports/partners/?program={world.eur.pk}").context["page"]
    assert [r["k"] for r in one.rows] == [str(world.alice.pk)]
    assert one.totals["conversions"] == 1
    old = client.get("/manage/reports/partners/?period=custom&start=2020-01-01&end=2020-02-01")
    assert old.context["page"].rows == []
    bad = client.get("/manage/reports/partners/?period=custom&start=2020-02-01&end=2020-01-01")
    assert bad.status_code == 200 and bad.context["period"].key == "30d"


def test_a_manager_sees_no_reward_columns_and_no_links_to_money_pages(client_for, manager, world):
    for url in REPORTS:
        response = client_for(manager).get(url)
        assert response.status_code == 200
        columns = [c for c, _, _ in response.context["columns"]]
        assert not {"accrued_total", "approved_total", "paid_total", "epc"} & set(columns)
        assert "/manage/rewards/" not in response.content.decode()


def test_another_tenants_rows_are_never_counted(client_for, owner, outsider, world, globex):
    from tests.rewards.helpers import make_program

    with tenant_scope(globex):
        program = make_program(globex, name="Globex shop")
        partner = make_partner(globex, program, "GLOBEX")
        sale(program, partner, "5000.00")
        rollup_drain()
    mine = client_for(owner).get("/manage/reports/programs/").context["page"]
    assert str(program.pk) not in [r["k"] for r in mine.rows]
    theirs = client_for(outsider, "globex.localhost").get("/manage/reports/programs/")
    assert [r["k"] for r in theirs.context["page"].rows] == [str(program.pk)]


def test_pages_of_fifty(client_for, owner, world):
    with tenant_scope(world.tenant):
        for i in range(55):
            make_partner(world.tenant, world.usd, f"P{i:03d}")
            click(world.usd, f"P{i:03d}", f"visitor-p{i:05d}")
    response = client_for(owner).get("/manage/reports/partners/?sort=-clicks&page=2")
    page = response.context["page"]
    assert page.total_rows == 58 and page.pages == 2 and len(page.rows) == 8
    assert 'page=1"' in response.content.decode()


@pytest.mark.parametrize("url", REPORTS)
def test_each_report_costs_the_same_queries_with_more_rows(client_for, owner, world, url):
    client = client_for(owner)
    client.get(url)
    with CaptureQueriesContext(connection) as small:
        client.get(url)
    with tenant_scope(world.tenant):
        for i in range(8):
            partner = make_partner(world.tenant, world.usd, f"MORE{i}")
            click(world.usd, f"MORE{i}", f"visitor-more{i:04d}", source=f"s{i}")
            sale(world.usd, partner, "10.00", at=timezone.now())
        rollup_drain()
    with CaptureQueriesContext(connection) as big:
        response = client.get(url)
    assert response.status_code == 200
    assert len(big) == len(small), [q["sql"][:80] for q in big]


def test_the_report_pages_draw_a_chart_from_json(client_for, owner, world):
    html = client_for(owner).get("/manage/reports/partners/").content.decode()
    assert re.search(r'<canvas id="report-chart" class="js-chart"', html)
    assert '<script id="report-chart-data" type="application/json">' in html
    assert "<script>" not in html  # nothing inline: the CSP allows none


def test_whole_weeks_and_months_come_from_their_rollup_with_the_same_figures(
    client_for, owner, world, monkeypatch
):
    """A period of whole months and weeks around today reads PartnerPeriod for them and
    the daily rows for its edges: the same figures as the raw rows."""
    from datetime import timedelta

    from programs.analytics.rollup_read import spans_of

    today = timezone.localdate()
    start = (today.replace(day=1) - timedelta(days=40)).replace(day=1) - timedelta(days=3)
    end = (today.replace(day=28) + timedelta(days=4)).replace(day=1) + timedelta(days=9)
    months, weeks, days = spans_of(start, end)
    assert len(months) == 3 and weeks and days
    covered = sorted(days)
    for m in months:
        after = (m.replace(day=28) + timedelta(days=4)).replace(day=1)
        covered += [m + timedelta(days=i) for i in range((after - m).days)]
    for w in weeks:
        covered += [w + timedelta(days=i) for i in range(7)]
    assert sorted(covered) == [start + timedelta(days=i) for i in range((end - start).days + 1)]
    url = f"/manage/reports/partners/?period=custom&start={start}&end={end}"
    response = client_for(owner).get(url)
    for partner in (world.alice, world.bob):
        row = row_of(response, str(partner.pk))
        with tenant_scope(world.tenant):
            expected = raw.figures(partner=partner)
        for key in ("clicks", "visitors", "leads", "conversions", "leads_duplicate"):
            assert row[key] == expected[key], (partner, key)
        for key in ("revenue_total", "accrued_total", "approved_total", "paid_total"):
            assert row[key] == expected[key], (partner, key)
    quality = client_for(owner).get(url.replace("partners", "quality"))
    assert row_of(quality, str(world.alice.pk))["leads_flagged"] == 1
    # Filtered by a program or a kind, the spans give what the daily rows give.
    from programs.analytics import rollup_read
    from programs.analytics.rollup_read import Filters, Rates, grouped, spans_for

    # The month of a period's last day is read whole only when nothing comes after it.
    yesterday = today - timedelta(days=1)
    assert spans_for(world.tenant, start, yesterday) == spans_of(start, yesterday)
    assert today.replace(day=1) in spans_for(world.tenant, start, today)[0]

    with tenant_scope(world.tenant):
        rates = Rates.on(world.tenant, end)
        for last, extra in (
            (end, {"program_id": str(world.usd.pk)}),
            (end, {"kind": "link"}),
            (end, {"kind": "registration"}),
        ):
            filters = Filters(start, last, **extra)
            spans = grouped(world.tenant, filters, "partner", rates).rows
            monkeypatch.setattr(rollup_read, "span_level", lambda group, filters: False)
            daily = grouped(world.tenant, filters, "partner", rates).rows
            monkeypatch.undo()
            assert spans == daily and spans, extra


def test_every_report_exports_its_rows_and_the_roles_columns(client_for, owner, manager, world):
    import csv
    import io

    for url in REPORTS:
        path, _, query = url.partition("?")
        page = client_for(owner).get(url).context["page"]
        response = client_for(owner).get(f"{path}export/?format=csv&{query}")
        assert response.status_code == 200, url
        text = b"".join(response.streaming_content).decode("utf-8-sig")
        lines = list(csv.reader(io.StringIO(text)))
        header, rows = lines[0], lines[1:]
        assert header[0] == page.group and set(page.columns) <= set(header), url
        assert [r[0] for r in rows] == [row["label"] for row in page.rows], url
        if "clicks" in page.columns:
            clicks = header.index("clicks")
            assert [int(r[clicks]) for r in rows] == [row["clicks"] for row in page.rows], url
        hidden = client_for(manager).get(f"{path}export/?format=csv&{query}")
        first = b"".join(hidden.streaming_content).decode("utf-8-sig").splitlines()[0]
        assert "accrued_total" not in first and "accrued_" not in first, url


def test_ranking_partners_on_one_measure_pages_them_like_the_full_grouping(world, monkeypatch):
    """A page of the rows by partner is ranked on the sort measure alone (over the
    period's active partners) and then read by id: the same rows, in the same order, as
    sorting every partner's full row, for every sort, direction, page, search (a
    search finding few partners reads them by id, one finding many by a semi-join) and
    program or kind filter (PartnerActivity and PartnerPeriod keep both)."""
    from datetime import timedelta

    from programs.analytics import rollup_read
    from programs.analytics.rollup_read import SORTS, Filters, Rates, grouped, searched

    today = timezone.localdate()
    with tenant_scope(world.tenant):
        for i in range(3):  # a partner with clicks only
            make_partner(world.tenant, world.usd, f"Quiet{i}")
            click(world.usd, f"Quiet{i}", f"visitor-quiet{i}")
        rates = Rates.on(world.tenant, today)
        long_ago = today - timedelta(days=100)
        cases = [
            (start, q, wide, {})
            for start in (today - timedelta(days=29), long_ago)
            for q, wide in (("", 200), ("quiet", 200), ("nobody", 200), ("quiet", 0))
        ] + [
            (long_ago, "", 200, {"program_id": str(world.usd.pk)}),
            (long_ago, "", 200, {"kind": "link"}),
            (long_ago, "", 200, {"kind": "registration"}),
            (long_ago, "example", 1, {}),  # every partner: read as all but none
            (long_ago, "i", 1, {}),  # all but Bob: read as all but him
        ]
        for start, q, wide, extra in cases:
            monkeypatch.setattr(rollup_read, "WIDE_SEARCH", wide)
            filters = searched(world.tenant, Filters(start, today, q=q, **extra))
            for sort in [*SORTS, "k"]:
                for desc in (True, False):
                    full = grouped(world.tenant, filters, "partner", rates, sort=sort, desc=desc)
                    for offset in (0, 2):
                        page = grouped(
                            world.tenant,
                            filters,
                            "partner",
                            rates,
                            sort=sort,
                            desc=desc,
                            limit=2,
                            offset=offset,
                        )
                        expected = full.rows[offset : offset + 2]
                        assert page.rows == expected, (start, q, extra, sort, desc, offset)
                        assert (page.total_rows, page.keyed_rows) == (
                            full.total_rows,
                            full.keyed_rows,
                        ) or not expected
        # A search finding all partners but a few: its totals are the workspace's minus
        # theirs, equal to reading the rows it finds.
        from dataclasses import replace

        from programs.analytics.rollup_read import money_of, totals

        monkeypatch.setattr(rollup_read, "WIDE_SEARCH", 1)
        for q, left_out in (("example", 0), ("i", 1)):
            for start in (today - timedelta(days=29), long_ago):
                fast = searched(world.tenant, Filters(start, today, q=q))
                assert fast.q_not is not None and len(fast.q_not) == left_out
                slow = replace(fast, q_not=None)
                assert totals(world.tenant, fast, rates) == totals(world.tenant, slow, rates)
                assert money_of(world.tenant, fast, "all") == money_of(world.tenant, slow, "all")
                assert totals(world.tenant, fast, rates)["clicks"] > 0
