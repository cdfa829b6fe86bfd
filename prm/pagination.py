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

# Up to this offset the plain slice is as fast, and one query fewer.
KEYS_FIRST_FROM = 1000


class KeysFirstPaginator(Paginator):
    """A ``Paginator`` over a queryset whose deep pages are fetched keys first."""

    def page(self, number: Any) -> Page:
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        top = bottom + self.per_page
        if top + self.orphans >= self.count:
            top = self.count
        rows = self.object_list
        if not isinstance(rows, QuerySet) or bottom < KEYS_FIRST_FROM:
            return super().page(number)
        keys = list(rows.values_list("pk", flat=True)[bottom:top])
        by_key = {row.pk: row for row in rows.filter(pk__in=keys)}
        return self._get_page([by_key[key] for key in keys if key in by_key], number, self)


def page_of(rows: QuerySet[Any], request: Any, per_page: int, param: str = "page") -> Page:
    """The requested page (``?page=``, or ``param``) of ``rows``; bad numbers give the
    first or the last page, as ``Paginator.get_page`` does."""
    return KeysFirstPaginator(rows, per_page).get_page(request.GET.get(param))
