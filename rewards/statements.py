"""The partner's view of their money: ledger entries in plain words, monthly
statements (balances at the start and end, movements, payouts) and their PDF."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Count, Min, Q, QuerySet, Sum
from django.db.models.functions import TruncDate
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from partners.models import PartnerProfile
from rewards.models import LedgerEntry, PayoutRequest, RewardRule, StatementFile
from rewards.services.ledger import Balance, money

K = LedgerEntry.Kind
ENTRY_KINDS = {
    K.ACCRUAL: gettext_lazy("Reward earned, on hold"),
    K.HOLD: gettext_lazy("Reward held for review"),
    K.APPROVAL: gettext_lazy("Reward approved: now available"),
    K.REJECTION: gettext_lazy("Reward rejected"),
    K.ADJUSTMENT: gettext_lazy("Correction by the program team"),
    K.PENALTY: gettext_lazy("Penalty"),
    K.CLAWBACK: gettext_lazy("Taken back after a refund"),
    K.PAYOUT: gettext_lazy("Withdrawal requested"),
    K.PAYOUT_RETURN: gettext_lazy("Withdrawal returned to your balance"),
    K.PAYOUT_PAID: gettext_lazy("Withdrawal paid out"),
    K.FEE: gettext_lazy("Payout fee"),
}
# Memos of these kinds are the reasons staff write for the partner; the others are
# internal notes (rule calculations, antifraud signals) and stay in the console.
PARTNER_MEMOS = {K.APPROVAL, K.REJECTION, K.ADJUSTMENT, K.PENALTY, K.PAYOUT_RETURN}

MAX_MONTHS = 120
_MONTH_RE = re.compile(r"(\d{4})-(\d{2})")


def level_label(level: int) -> str:
    if level <= 1:
        return _("your own")
    if level == 2:
        return _("from your recruit")
    return _("from your recruits' network (level %(level)d)") % {"level": level}


def describe_entries(entries: Iterable[LedgerEntry]) -> list[LedgerEntry]:
    """Entries with ``what`` (the kind in plain words), ``about`` (program or payout
    method) and ``note`` (a reason meant for the partner) set for the templates."""
    described = []
    for entry in entries:
        entry.what = ENTRY_KINDS.get(entry.kind, entry.get_kind_display())  # type: ignore[attr-defined]
        if entry.reward_id:
            entry.about = entry.reward.program.name  # type: ignore[union-attr,attr-defined]
        elif entry.payout_id:
            entry.about = entry.payout.method.name  # type: ignore[union-attr,attr-defined]
        else:
            entry.about = ""  # type: ignore[attr-defined]
        entry.note = entry.memo if entry.kind in PARTNER_MEMOS else ""  # type: ignore[attr-defined]
        described.append(entry)
    return described


def _plain(value: str) -> str:
    """``"10.00"`` → ``"10"``, ``"7.50"`` → ``"7.5"``."""
    number = Decimal(value).normalize()
    return format(number, "f")


def referred_offer_text(offer: dict[str, Any] | None, currency: str) -> str:
    """What a referred customer gets, from ``accrual.referred_reward``, in words."""
    if offer is None:
        return _("Nothing extra: the reward is yours alone.")
    value = _plain(offer["value"])
    if offer["kind"] == RewardRule.ReferredReward.DISCOUNT:
        return _("A %(value)s%% discount with your promo code.") % {"value": value}
    return _("%(value)s %(currency)s of account credit.") % {"value": value, "currency": currency}


@dataclass(frozen=True)
class Month:
    """A calendar month in the current time zone: [start, end)."""

    start: datetime
    end: datetime

    @property
    def param(self) -> str:
        return f"{self.start:%Y-%m}"


def month_of(year: int, month: int) -> Month:
    tz = timezone.get_current_timezone()
    start = datetime(year, month, 1, tzinfo=tz)
    end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=tz)
    return Month(start=start, end=end)


def parse_month(value: str) -> Month | None:
    """``YYYY-MM`` of a month that has begun, or None."""
    match = _MONTH_RE.fullmatch(value)
    if match is None:
        return None
    year, month = int(match[1]), int(match[2])
    # Future months are refused below; a far-future year must not reach datetime().
    if not 2000 <= year <= timezone.now().year or not 1 <= month <= 12:
        return None
    result = month_of(year, month)
    return result if result.start <= timezone.now() else None


def statement_months(partner: PartnerProfile) -> list[Month]:
    """Months from the partner's first ledger entry to this one, newest first."""
    first = LedgerEntry.objects.filter(partner=partner).aggregate(first=Min("created_at"))["first"]
    if first is None:
        return []
    first = timezone.localtime(first)
    now = timezone.localtime()
    year, month = now.year, now.month
    months = []
    while (year, month) >= (first.year, first.month) and len(months) < MAX_MONTHS:
        months.append(month_of(year, month))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return months


def balances_before(partner: PartnerProfile, at: datetime) -> dict[str, Balance]:
    """Every currency's balances of a partner as they stood just before ``at``."""
    rows = (
        LedgerEntry.objects.filter(partner=partner, created_at__lt=at)
        .values("currency")
        .annotate(
            pending=Sum("pending"),
            available=Sum("available"),
            processing=Sum("processing"),
            paid=Sum("paid"),
        )
        .order_by("currency")
    )
    return {
        row["currency"]: Balance(
            currency=row["currency"],
            pending=money(row["pending"]),
            available=money(row["available"]),
            processing=money(row["processing"]),
            paid=money(row["paid"]),
        )
        for row in rows
    }


@dataclass(frozen=True)
class CurrencyLine:
    currency: str
    opening: Balance
    closing: Balance


@dataclass(frozen=True)
class SummaryRow:
    """The month's movements of one kind, on one day, for one program or method."""

    day: date
    what: str
    about: str
    currency: str
    count: int
    pending: Decimal
    available: Decimal
    processing: Decimal
    paid: Decimal


@dataclass(frozen=True)
class Statement:
    partner: PartnerProfile
    month: Month
    lines: list[CurrencyLine]
    summary: list[SummaryRow]
    entry_count: int
    payouts: list[PayoutRequest]


def month_entries(partner: PartnerProfile, month: Month) -> QuerySet[LedgerEntry]:
    """Every movement of the month, oldest first (the statement's detail)."""
    return (
        LedgerEntry.objects.filter(
            partner=partner, created_at__gte=month.start, created_at__lt=month.end
        )
        .select_related("reward__program", "payout__method")
        .order_by("created_at", "id")
    )


def _summary(partner: PartnerProfile, month: Month) -> list[SummaryRow]:
    """One row per day, kind, currency and program (or payout method): a month of a
    busy partner is a few hundred rows, never one per entry."""
    rows = (
        LedgerEntry.objects.filter(
            partner=partner, created_at__gte=month.start, created_at__lt=month.end
        )
        .annotate(day=TruncDate("created_at", tzinfo=timezone.get_current_timezone()))
        .values("day", "kind", "currency", "reward__program__name", "payout__method__name")
        .annotate(
            n=Count("id"),
            pending_sum=Sum("pending"),
            available_sum=Sum("available"),
            processing_sum=Sum("processing"),
            paid_sum=Sum("paid"),
        )
        .order_by("day", "currency", "kind", "reward__program__name", "payout__method__name")
    )
    return [
        SummaryRow(
            day=row["day"],
            what=str(ENTRY_KINDS.get(row["kind"], row["kind"])),
            about=row["reward__program__name"] or row["payout__method__name"] or "",
            currency=row["currency"],
            count=row["n"],
            pending=money(row["pending_sum"]),
            available=money(row["available_sum"]),
            processing=money(row["processing_sum"]),
            paid=money(row["paid_sum"]),
        )
        for row in rows
    ]


def monthly_statement(partner: PartnerProfile, month: Month) -> Statement:
    opening = balances_before(partner, month.start)
    closing = balances_before(partner, month.end)
    lines = [
        CurrencyLine(
            currency=currency,
            opening=opening.get(currency, Balance(currency=currency)),
            closing=closing.get(currency, Balance(currency=currency)),
        )
        for currency in sorted(set(opening) | set(closing))
    ]
    summary = _summary(partner, month)
    in_month = Q(created_at__gte=month.start, created_at__lt=month.end)
    decided = Q(decided_at__gte=month.start, decided_at__lt=month.end)
    paid = Q(paid_at__gte=month.start, paid_at__lt=month.end)
    payouts = (
        PayoutRequest.objects.filter(partner=partner)
        .filter(in_month | decided | paid)
        .select_related("method")
        .order_by("created_at")
    )
    return Statement(
        partner=partner,
        month=month,
        lines=lines,
        summary=summary,
        entry_count=sum(row.count for row in summary),
        payouts=list(payouts),
    )


DETAIL_COLUMNS = (
    gettext_lazy("Date"),
    gettext_lazy("What happened"),
    gettext_lazy("Program or method"),
    gettext_lazy("Currency"),
    gettext_lazy("On hold"),
    gettext_lazy("Available"),
    gettext_lazy("Processing"),
    gettext_lazy("Paid"),
    gettext_lazy("Note"),
)


def detail_rows(partner: PartnerProfile, month: Month) -> Iterator[list[Any]]:
    """The statement's detail, one row per ledger entry, streamed from the database."""
    tz = timezone.get_current_timezone()
    entries = month_entries(partner, month).iterator(chunk_size=2000)
    for entry in describe_entries(entries):
        yield [
            entry.created_at.astimezone(tz).strftime("%Y-%m-%d %H:%M"),
            str(entry.what),  # type: ignore[attr-defined]
            entry.about,  # type: ignore[attr-defined]
            entry.currency,
            entry.pending,
            entry.available,
            entry.processing,
            entry.paid,
            entry.note,  # type: ignore[attr-defined]
        ]


def _url_fetcher() -> Any:
    """A fetcher that loads nothing but data: URIs (the tenant's logo, embedded): a value
    that slipped into the HTML must not make the server fetch anything."""
    try:
        from weasyprint.urls import URLFetcher  # WeasyPrint 68+
    except ImportError:  # pragma: no cover - older WeasyPrint takes a function

        def refuse(url: str, *args: Any, **kwargs: Any) -> Any:
            raise ValueError(f"statements fetch nothing ({url})")

        return refuse
    return URLFetcher(allowed_protocols=("data",))


def statement_html(statement: Statement) -> str:
    """The statement as the HTML WeasyPrint prints, in the tenant's branding."""
    from prm.branding import branding_for, logo_data_uri

    tenant = statement.partner.tenant
    return render_to_string(
        "cabinet/money/statement_pdf.html",
        {
            "statement": statement,
            "tenant": tenant,
            "branding": branding_for(tenant),
            "logo": logo_data_uri(tenant),
            "generated_at": timezone.now(),
        },
    )


def statement_pdf(statement: Statement) -> bytes:
    # Imported here: WeasyPrint takes half a second to import and only this needs it.
    from django.contrib.staticfiles import finders
    from weasyprint import CSS, HTML

    html = statement_html(statement)
    css = finders.find("css/statement.css")
    fetcher = _url_fetcher()
    return HTML(string=html, url_fetcher=fetcher).write_pdf(
        stylesheets=[CSS(filename=css, url_fetcher=fetcher)]
    )


def statement_pdf_cached(partner: PartnerProfile, month: Month) -> bytes:
    """The month's PDF in the active language: a closed month's is built once and kept
    (its entries can no longer change); the current month's is built each time."""
    language = translation.get_language() or "en"
    closed = month.end <= timezone.now()
    first_day = month.start.date()
    if closed:
        kept = (
            StatementFile.objects.filter(partner=partner, month=first_day, language=language)
            .values_list("pdf", flat=True)
            .first()
        )
        if kept is not None:
            return bytes(kept)
    pdf = statement_pdf(monthly_statement(partner, month))
    if closed:
        try:
            with transaction.atomic():
                StatementFile.objects.create(
                    tenant=partner.tenant,
                    partner=partner,
                    month=first_day,
                    language=language,
                    pdf=pdf,
                )
        except IntegrityError:
            pass  # built meanwhile by the monthly job or another request
    return pdf


def statements_build_closed_month() -> int:
    """Periodic (the 1st of each month): build last month's statement of every partner
    whose money moved in it, in the workspace's language."""
    from prm.models import Tenant
    from prm.tenancy import tenant_scope

    now = timezone.now()
    built = 0
    for tenant in Tenant.objects.filter(is_active=True):
        with tenant_scope(tenant), translation.override(tenant.language):
            local = timezone.localtime(now)
            year, number = (
                (local.year, local.month - 1) if local.month > 1 else (local.year - 1, 12)
            )
            month = month_of(year, number)
            # Erased partners cannot sign in to read one (their statement is still
            # built, anonymised, if someone asks for it).
            partners = PartnerProfile.objects.filter(
                erased_at__isnull=True,
                pk__in=LedgerEntry.objects.filter(
                    created_at__gte=month.start, created_at__lt=month.end
                ).values("partner_id"),
            ).select_related("user", "tenant")
            for partner in partners.iterator(chunk_size=200):
                statement_pdf_cached(partner, month)
                built += 1
    return built
