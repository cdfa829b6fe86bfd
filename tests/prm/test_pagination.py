"""prm.pagination: deep pages fetched keys first hold exactly the rows OFFSET would."""

from __future__ import annotations

import pytest
from django.core.paginator import Paginator
from django.db import connection
from django.test.utils import CaptureQueriesContext

from prm import pagination
from prm.pagination import KeysFirstPaginator
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
