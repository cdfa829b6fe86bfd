"""Cell conversions shared by the resources: ISO 8601 times, choices by value, and
rows of the tenant named by a readable key (a program's name, a partner's e-mail) or
by id. Every lookup goes through the scoped managers: another tenant's rows are never
found, whatever the file says."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import models
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from import_export import widgets


class IsoDateTimeWidget(widgets.Widget):
    """Times as ISO 8601 in UTC on export; on import ISO 8601 (an offset, or UTC when
    none) or ``YYYY-MM-DD HH:MM[:SS]``."""

    def clean(self, value: Any, row: Any = None, **kwargs: Any) -> datetime | None:
        if value in (None, ""):
            return None
        if isinstance(value, datetime):
            parsed = value
        else:
            parsed = parse_datetime(str(value).strip().replace(" ", "T", 1))
            if parsed is None:
                raise ValueError(
                    _("“%(value)s” is not a date and time (2026-01-31T14:05:00Z).")
                    % {"value": value}
                )
        if timezone.is_naive(parsed):
            parsed = parsed.replace(tzinfo=UTC)
        return parsed

    def render(self, value: Any, obj: Any = None, **kwargs: Any) -> Any:
        if not isinstance(value, datetime):
            return None
        return value.astimezone(UTC)


class MoneyWidget(widgets.Widget):
    def clean(self, value: Any, row: Any = None, **kwargs: Any) -> Decimal | None:
        if value in (None, ""):
            return None
        try:
            amount = Decimal(str(value).strip().replace(",", "."))
        except InvalidOperation:
            raise ValueError(_("“%(value)s” is not an amount.") % {"value": value}) from None
        if not amount.is_finite() or amount < 0 or amount >= Decimal("1e12"):
            raise ValueError(_("“%(value)s” is not an amount.") % {"value": value})
        return amount.quantize(Decimal("0.01"))

    def render(self, value: Any, obj: Any = None, **kwargs: Any) -> Any:
        return value


class PlainWidget(widgets.Widget):
    """Values as they are on export (numbers, booleans, JSON); stripped text on import."""

    def clean(self, value: Any, row: Any = None, **kwargs: Any) -> Any:
        return "" if value is None else str(value).strip()

    def render(self, value: Any, obj: Any = None, **kwargs: Any) -> Any:
        if isinstance(value, uuid.UUID):
            return str(value)
        return value


class ChoiceWidget(PlainWidget):
    def __init__(self, choices: type[models.TextChoices], *, blank: bool = True) -> None:
        super().__init__()
        self.choices = choices
        self.blank = blank

    def clean(self, value: Any, row: Any = None, **kwargs: Any) -> str:
        text = super().clean(value).lower()
        if not text and self.blank:
            return ""
        if text not in self.choices.values:
            raise ValueError(
                _("“%(value)s” is not one of: %(choices)s.")
                % {"value": value, "choices": ", ".join(self.choices.values)}
            )
        return text


class TenantRowWidget(widgets.ForeignKeyWidget):
    """A row of the tenant by a readable key (``field``) or, failing that, by its id."""

    def __init__(self, model: type[models.Model], field: str, label: str) -> None:
        super().__init__(model, field=field)
        self.label = label

    def clean(self, value: Any, row: Any = None, **kwargs: Any) -> Any:
        text = "" if value is None else str(value).strip()
        if not text:
            return None
        # One import's lookups are remembered for its other rows (``lookup_cache`` is
        # made per run, so nothing is shared between imports or tenants).
        cache = kwargs.get("lookup_cache")
        key = (self.model.__name__, self.field, text.lower())
        if cache is not None and key in cache:
            return cache[key]
        found = self._lookup(text)
        if cache is not None:
            cache[key] = found
        return found

    def _lookup(self, text: str) -> Any:
        queryset = self.model.objects.all()  # type: ignore[attr-defined]  # scoped
        found = list(queryset.filter(**{f"{self.field}__iexact": text})[:2])
        if not found:
            try:
                found = list(queryset.filter(pk=uuid.UUID(text))[:1])
            except ValueError:
                found = []
        if len(found) != 1:
            message = (
                _("No %(what)s “%(value)s” in this workspace.")
                if not found
                else _("More than one %(what)s is called “%(value)s”: use its id.")
            )
            raise ValueError(message % {"what": self.label, "value": text})
        return found[0]

    def render(self, value: Any, obj: Any = None, **kwargs: Any) -> Any:
        if value is None:
            return ""
        for attr in self.field.split("__"):
            value = getattr(value, attr, None)
        return value or ""
