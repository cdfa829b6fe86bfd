"""prm.pagination: deep pages fetched keys first, and pages reached by their keyset
links, hold exactly the rows OFFSET would."""

from __future__ import annotations

import pytest
from django.core.paginator import Paginator
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.utils.http import urlencode

from prm import pagination
from prm.pagination import KeysFirstPaginator, page_of
from programs import selectors
from tests.programs.factories import LeadFactory, ProgramFactory


@pytest.fixture
def leads(acme):  # type: ignore[no-untyped-def]
    program = ProgramFactory(tenant=acme)
    # Repeated names and statuses: the tie-breakers decide the order.
    return [
        LeadFactory(program=program, name=f"Lead {i % 4}", status=["new", "qualified"][i % 2])
        for i in range(23)
    ]


@pytest.mark.parametrize("sort", sorted(selectors.LEAD_ORDERS))
def test_every_page_matches_the_offset_paginator(in_acme, leads, monkeypatch, sort):
    monkeypatch.setattr(pagination, "KEYS_FIRST_FROM", 0)
    rows = selectors.leads_filtered(sort=sort)
    plain, keys_first = Paginator(rows, 5), KeysFirstPaginator(rows, 5)
    seen = []
    for number in plain.page_range:
        expected = [lead.pk for lead in plain.page(number)]
        assert [lead.pk for lead in keys_first.page(number)] == expected
        seen += expected
    assert sorted(seen) == sorted(lead.pk for lead in leads)


def test_a_deep_page_takes_a_count_the_keys_and_the_rows(in_acme, leads, monkeypatch):
    monkeypatch.setattr(pagination, "KEYS_FIRST_FROM", 0)
    paginator = KeysFirstPaginator(selectors.leads_filtered(), 5)
    with CaptureQueriesContext(connection) as captured:
        page = paginator.page(3)
        names = [lead.program.name for lead in page]  # joined, not one query per row
    assert len(names) == 5
    assert len(captured.captured_queries) == 3
    assert 'SELECT "programs_lead"."id"' in captured.captured_queries[1]["sql"]


def test_a_capped_count_says_there_are_more(in_acme, leads):
    paginator = KeysFirstPaginator(selectors.leads_filtered(), 5, count_cap=10)
    assert (paginator.count, paginator.capped, paginator.num_pages) == (10, True, 2)
    uncapped = KeysFirstPaginator(selectors.leads_filtered(), 5, count_cap=100)
    assert (uncapped.count, uncapped.capped) == (23, False)


# Keyset links


def walk(rows, link_attr: str, start: dict[str, str]) -> list[list[object]]:  # type: ignore[no-untyped-def]
    """Follow the pages' Next (or Previous) links from ``start``; the pks of each page."""
    factory = RequestFactory()
    pages, query = [], urlencode(start)
    while query is not None:
        page = page_of(rows, factory.get(f"/?{query}"), 5)
        pages.append([row.pk for row in page])
        query = getattr(page, link_attr, None)
    return pages


@pytest.mark.parametrize("sort", sorted(selectors.LEAD_ORDERS))
def test_next_and_previous_links_walk_the_same_pages_as_page_numbers(in_acme, leads, sort):
    rows = selectors.leads_filtered(sort=sort)
    by_number = [[row.pk for row in page] for page in map(Paginator(rows, 5).page, range(1, 6))]
    forward = walk(rows, "next_query", {})
    assert forward == by_number
    backward = walk(rows, "previous_query", {"page": "5"})
    assert backward == list(reversed(by_number))


def test_a_keyset_page_reads_from_the_cursor_not_from_an_offset(in_acme, leads):
    rows = selectors.leads_filtered()
    first = page_of(rows, RequestFactory().get("/"), 5)
    with CaptureQueriesContext(connection) as captured:
        second = page_of(rows, RequestFactory().get(f"/?{first.next_query}"), 5)
    keys_sql = captured.captured_queries[1]["sql"]
    assert "OFFSET" not in keys_sql and '"programs_lead"."created_at" <=' in keys_sql
    assert second.number == 2
    assert [r.pk for r in second] == [r.pk for r in Paginator(rows, 5).page(2)]


@pytest.mark.parametrize("cursor", ["junk", "", "W10:1abc:xyz"])
def test_a_bad_cursor_falls_back_to_the_page_number(in_acme, leads, cursor):
    rows = selectors.leads_filtered()
    page = page_of(rows, RequestFactory().get("/", {"page": "3", "page_after": cursor}), 5)
    assert [r.pk for r in page] == [r.pk for r in Paginator(rows, 5).page(3)]


def test_lists_in_another_order_keep_plain_page_links(in_acme, leads):
    rows = selectors.leads_filtered().order_by("program__name", "pk")  # a related column
    page = page_of(rows, RequestFactory().get("/"), 5)
    assert page.has_next() and not hasattr(page, "next_query")
