"""Pagination of console and cabinet lists that stays fast on deep pages.

``Paginator`` slices the whole queryset with OFFSET: page 2,000 of the leads makes
PostgreSQL build (join, fetch from the heap) 100,000 rows to throw them away. Here the
page's primary keys are found first, with the list's filters and order only, which an
index on ``(tenant, <sort columns>, id)`` answers by an index-only scan; then the 50
rows of the page are fetched by key with their joins. Same URLs (``?page=N``), same
page object for the templates; the cost of a deep page is reading index entries.

Lists must be ordered deterministically (a unique column last) so that both steps agree.
"""

from __future__ import annotations

from typing import Any

from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.utils.functional import cached_property

# Up to this offset the plain slice is as fast, and one query fewer.
KEYS_FIRST_FROM = 1000


class KeysFirstPaginator(Paginator):
    """A ``Paginator`` over a queryset whose deep pages are fetched keys first.

    ``count_cap``: count at most this many rows (a text search that matches nearly
    everything would otherwise count every row); ``capped`` says the list is longer.
    """

    def __init__(self, *args: Any, count_cap: int | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.count_cap = count_cap
        self.capped = False

    @cached_property
    def count(self) -> int:
        rows = self.object_list
        if self.count_cap is None or not isinstance(rows, QuerySet):
            return super().count
        counted = rows.order_by()[: self.count_cap + 1].count()
        self.capped = counted > self.count_cap
        return min(counted, self.count_cap)

    def page(self, number: Any) -> Page:
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        top = bottom + self.per_page
        if top + self.orphans >= self.count:
            top = self.count
        rows = self.object_list
        if not isinstance(rows, QuerySet):
            return super().page(number)
        # LIMIT stays the page size even when fewer rows are left: a LIMIT of 1 or 2
        # makes PostgreSQL walk the sort index hoping to meet them early, which for a
        # selective search means reading every row of the tenant.
        limit = bottom + self.per_page + self.orphans
        if bottom < KEYS_FIRST_FROM:
            return self._get_page(list(rows[bottom:limit])[: top - bottom], number, self)
        keys = list(rows.values_list("pk", flat=True)[bottom:limit])[: top - bottom]
        by_key = {row.pk: row for row in rows.filter(pk__in=keys)}
        return self._get_page([by_key[key] for key in keys if key in by_key], number, self)


def page_of(
    rows: QuerySet[Any],
    request: Any,
    per_page: int,
    param: str = "page",
    count_cap: int | None = None,
) -> Page:
    """The requested page (``?page=``, or ``param``) of ``rows``; bad numbers give the
    first or the last page, as ``Paginator.get_page`` does."""
    paginator = KeysFirstPaginator(rows, per_page, count_cap=count_cap)
    return paginator.get_page(request.GET.get(param))
