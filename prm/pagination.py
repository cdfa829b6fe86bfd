"""Pagination of console and cabinet lists that stays fast on deep pages.

``Paginator`` slices the whole queryset with OFFSET: page 2,000 of the leads makes
PostgreSQL build (join, fetch from the heap) 100,000 rows to throw them away. Here the
page's primary keys are found first, with the list's filters and order only, which an
index on ``(tenant, <sort columns>, id)`` answers by an index-only scan; then the 50
rows of the page are fetched by key with their joins. Same URLs (``?page=N``), same
page object for the templates; the cost of a deep page is reading index entries.

Lists must be ordered deterministically (a unique column last) so that both steps agree.

Keyset links: when a list is ordered by plain non-null columns ending with its primary
key, its Next and Previous links also carry a signed cursor (the last or first row's
sort values, ``?page=N&page_after=…``); that page is then fetched with
``WHERE (sort columns) beyond the cursor`` from the index, whatever its depth. A
cursor that does not verify, or finds nothing, falls back to the page number.
"""

from __future__ import annotations

import operator
from functools import reduce
from typing import Any

from django.core import signing
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.core.paginator import InvalidPage, Page, Paginator
from django.db.models import Field, Q, QuerySet
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


CURSOR_SALT = "prm.pagination.cursor"
SortKey = list[tuple["Field[Any, Any]", bool]]  # (column, descending)


def sort_key(rows: QuerySet[Any]) -> SortKey | None:
    """The list's order as columns a cursor can hold, or None when it cannot (related
    or nullable columns, expressions, or no unique column last)."""
    meta = rows.model._meta
    columns: SortKey = []
    for item in rows.query.order_by or meta.ordering:
        if not isinstance(item, str) or "__" in item or "?" in item:
            return None
        name = item.lstrip("-")
        try:
            field = meta.pk if name == "pk" else meta.get_field(name)
        except FieldDoesNotExist:
            return None
        if field.null or field.is_relation or not field.concrete:
            return None
        columns.append((field, item.startswith("-")))  # type: ignore[arg-type]
    if not columns or not (columns[-1][0].primary_key or columns[-1][0].unique):
        return None
    return columns


def cursor_of(row: Any, key: SortKey) -> str:
    values = [field.value_to_string(row) for field, _ in key]
    return signing.dumps(values, salt=CURSOR_SALT, compress=True)


def _cursor_values(token: str, key: SortKey) -> list[Any] | None:
    try:
        raw = signing.loads(token, salt=CURSOR_SALT)
        if not isinstance(raw, list) or len(raw) != len(key):
            return None
        return [field.to_python(value) for (field, _), value in zip(key, raw, strict=True)]
    except (signing.BadSignature, ValidationError, ValueError, TypeError):
        return None


def beyond(key: SortKey, values: list[Any], *, forward: bool) -> Q:
    """Rows after the cursor in the list's order (``forward``) or before it: the row
    comparison spelled out, plus a bound on the first column so that the index scan
    starts at the cursor instead of filtering its way there."""
    terms, equal = [], Q()
    for (field, descending), value in zip(key, values, strict=True):
        op = "lt" if descending == forward else "gt"
        terms.append(equal & Q(**{f"{field.attname}__{op}": value}))
        equal &= Q(**{field.attname: value})
    first, descending = key[0]
    bound = Q(**{f"{first.attname}__{'lte' if descending == forward else 'gte'}": values[0]})
    return bound & reduce(operator.or_, terms)


def _keyset_page(
    paginator: KeysFirstPaginator, number: Any, key: SortKey, token: str, forward: bool
) -> Page | None:
    values = _cursor_values(token, key)
    if values is None:
        return None
    try:
        number = paginator.validate_number(number)
    except InvalidPage:
        return None
    rows = paginator.object_list
    matching = rows.filter(beyond(key, values, forward=forward))
    if not forward:
        matching = matching.reverse()
    keys = list(matching.values_list("pk", flat=True)[: paginator.per_page])
    if not keys:
        return None
    if not forward:
        keys.reverse()
    by_key = {row.pk: row for row in rows.filter(pk__in=keys)}
    return paginator._get_page([by_key[k] for k in keys if k in by_key], number, paginator)


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
    number = request.GET.get(param)
    after, before = f"{param}_after", f"{param}_before"
    key = sort_key(rows) if isinstance(rows, QuerySet) else None
    page = None
    if key is not None and (request.GET.get(after) or request.GET.get(before)):
        forward = bool(request.GET.get(after))
        token = request.GET.get(after) or request.GET.get(before)
        page = _keyset_page(paginator, number, key, token, forward)
    if page is None:
        page = paginator.get_page(number)
    if key is not None and page.object_list:
        params = request.GET.copy()
        for name in (param, after, before):
            params.pop(name, None)
        if page.has_next():
            params[param], params[after] = str(page.number + 1), cursor_of(page[-1], key)
            page.next_query = params.urlencode()  # type: ignore[attr-defined]
            params.pop(after)
        if page.has_previous():
            params[param], params[before] = str(page.number - 1), cursor_of(page[0], key)
            page.previous_query = params.urlencode()  # type: ignore[attr-defined]
    return page
