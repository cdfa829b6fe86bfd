"""Choosing a partner without listing every partner: the search selector behind
``/manage/partners/search/`` and the form field whose widget calls it.

A tenant may have tens of thousands of partners; a ``<select>`` of all of them is
megabytes of HTML on every page with a partner filter or form. The field renders one
search box (static/js/app.js turns it into a search-as-you-type list) and a hidden input
with the chosen partner's id; it validates that id against its queryset, i.e. within the
tenant and within whatever the form allows (the program's partners, say). Without
JavaScript the box still works: type the partner's e-mail.
"""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.urls import reverse
from django.utils.html import format_html
from django.utils.http import urlencode
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _

from partners.models import PartnerProfile

SEARCH_LIMIT = 20
PICK_PARTNER = _("Choose a partner from the list (or type their e-mail).")
EMAIL_IN_LABEL = re.compile(r"<([^<>\s]+@[^<>\s]+)>\s*$")


def partner_label(partner: PartnerProfile) -> str:
    email = partner.user.email
    return f"{partner.display_name} <{email}>" if partner.display_name else email


def partners_for_choice() -> QuerySet[PartnerProfile]:
    return PartnerProfile.objects.select_related("user").order_by("display_name", "user__email")


def partners_in_program(program: Any, *, active_only: bool = False) -> QuerySet[PartnerProfile]:
    """Partners enrolled in ``program`` (with an active enrollment if ``active_only``)."""
    enrolled = Q(enrollments__program=program)
    if active_only:
        enrolled &= Q(enrollments__status="active")
    return partners_for_choice().filter(enrolled)


def partner_search(
    queryset: QuerySet[PartnerProfile], q: str, limit: int = SEARCH_LIMIT
) -> list[dict[str, str]]:
    """Up to ``limit`` partners of ``queryset`` whose name, e-mail or company contains
    ``q``, as the JSON the widget shows."""
    q = q.replace("\x00", "").strip()[:200]  # PostgreSQL refuses NUL in text
    if q:
        match = EMAIL_IN_LABEL.search(q)
        if match:  # a label the widget showed ("Name <e-mail>"): its e-mail
            q = match[1]
        queryset = queryset.filter(
            Q(display_name__icontains=q) | Q(user__email__icontains=q) | Q(company__icontains=q)
        )
    return [{"id": str(p.pk), "label": partner_label(p)} for p in queryset[:limit]]


class PartnerSearchWidget(forms.Widget):
    """A search box plus a hidden input holding the chosen partner's id."""

    queryset: QuerySet[PartnerProfile] | None = None
    search_params: dict[str, str]

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs)
        self.search_params = {}

    def value_from_datadict(self, data: Any, files: Any, name: str) -> str:
        # The id the list filled in; failing that, what was typed (an e-mail, or a label).
        return (data.get(name) or "").strip() or (data.get(f"{name}_q") or "").strip()

    def value_omitted_from_data(self, data: Any, files: Any, name: str) -> bool:
        return name not in data and f"{name}_q" not in data

    def label_for(self, value: Any) -> tuple[str, str]:
        """(the id, the text shown) for a value: an id, a partner or typed text."""
        if value in (None, ""):
            return "", ""
        if isinstance(value, PartnerProfile):
            return str(value.pk), partner_label(value)
        text = str(value)
        if self.queryset is not None:
            found = find_partner(self.queryset, text)
            if found is not None:
                return str(found.pk), partner_label(found)
        return "", text

    def render(
        self, name: str, value: Any, attrs: dict[str, Any] | None = None, renderer: Any = None
    ) -> str:
        attrs = self.build_attrs(self.attrs, attrs)
        input_id = attrs.get("id") or f"id_{name}"
        pk, text = self.label_for(value)
        # Console forms live on tenant hosts, whatever urlconf renders them (tests, mails).
        url = reverse("console:partner_search", urlconf="prm.urls_tenant")
        if self.search_params:
            url += "?" + urlencode(self.search_params)
        return format_html(
            '<span class="autocomplete">'
            '<input type="hidden" name="{}" value="{}" class="js-autocomplete-value">'
            '<input type="search" name="{}_q" id="{}" value="{}" class="js-autocomplete" '
            'data-url="{}" autocomplete="off" role="combobox" aria-autocomplete="list" '
            'aria-expanded="false" aria-controls="{}-list" placeholder="{}"{}>'
            '<ul id="{}-list" class="autocomplete-list" role="listbox" hidden></ul>'
            "</span>",
            name,
            pk,
            name,
            input_id,
            text,
            url,
            input_id,
            _("Name or e-mail"),
            mark_safe(" required") if attrs.get("required") else "",  # noqa: S308 - a literal
            input_id,
        )


def find_partner(queryset: QuerySet[PartnerProfile], value: str) -> PartnerProfile | None:
    """The partner of ``queryset`` named by an id, an e-mail or a widget label."""
    value = value.replace("\x00", "").strip()
    match = EMAIL_IN_LABEL.search(value)
    if match:
        value = match[1]
    try:
        if "@" in value:
            return queryset.filter(user__email__iexact=value).first()
        return queryset.filter(pk=value).first()
    except (ValueError, ValidationError):  # not a UUID
        return None


class PartnerField(forms.ModelChoiceField):
    """A partner of the form's queryset, chosen by search; never lists them all."""

    widget = PartnerSearchWidget
    default_error_messages = {"invalid_choice": PICK_PARTNER}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("queryset", PartnerProfile.all_tenants_unscoped.none())
        super().__init__(*args, **kwargs)

    def _set_queryset(self, queryset: Any) -> None:
        super()._set_queryset(queryset)
        self.widget.queryset = self._queryset  # type: ignore[attr-defined]

    queryset = property(forms.ModelChoiceField._get_queryset, _set_queryset)  # type: ignore[assignment]

    def search_within(self, **params: Any) -> None:
        """Restrict the suggestions the same way the queryset is (e.g. to a program)."""
        self.widget.search_params = {k: str(v) for k, v in params.items()}  # type: ignore[attr-defined]

    def prepare_value(self, value: Any) -> Any:
        return value  # the widget resolves ids and partners itself

    def to_python(self, value: Any) -> PartnerProfile | None:
        if value in self.empty_values:
            return None
        if isinstance(value, PartnerProfile):
            value = str(value.pk)
        found = find_partner(self.queryset, str(value))
        if found is None:
            raise ValidationError(self.error_messages["invalid_choice"], code="invalid_choice")
        return found

    def has_changed(self, initial: Any, data: Any) -> bool:
        initial_pk = str(initial.pk) if isinstance(initial, PartnerProfile) else str(initial or "")
        return initial_pk != str(data or "")
