"""Leads and conversions as tables: the console lists' exports and their imports.

Imports go through the same services as the API: a lead through ``lead_create`` (with
its ownership and duplicate rules), a conversion through ``conversion_record`` (with
attribution, the lead turned converted and the rewards' accrual job), so a file can do
nothing an API call could not.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from import_export.fields import Field

from partners.models import PartnerProfile
from prm.dataio.resources import TenantResource
from prm.dataio.widgets import (
    ChoiceWidget,
    IsoDateTimeWidget,
    MoneyWidget,
    PlainWidget,
    TenantRowWidget,
)
from prm.models import User
from prm.models.tenant import CURRENCY_CHOICES
from prm.tenancy import require_tenant
from programs.models import Conversion, Lead, Program
from programs.services.conversions import ORDER_ID_REUSED, ConversionInput, conversion_record
from programs.services.leads import LeadInput, lead_create, lead_set_status, lead_update_contact

PARTNER_NOT_IN_PROGRAM = _("This partner is not an active partner of the program.")
ORDER_ID_REQUIRED = _("An order id is required.")
AMOUNT_REQUIRED = _("An amount is required.")
UNKNOWN_CURRENCY = _("“%(value)s” is not a currency code we know.")
CURRENCIES = {code for code, _label in CURRENCY_CHOICES}


def _program_field() -> Field:
    return Field(
        attribute="program",
        column_name="program",
        widget=TenantRowWidget(Program, "name", _("program")),
    )


def _partner_field(*, readonly: bool) -> Field:
    return Field(
        attribute="partner",
        column_name="partner",
        readonly=readonly,
        widget=TenantRowWidget(PartnerProfile, "user__email", _("partner")),
    )


def _text(attribute: str, column: str | None = None, *, readonly: bool = False) -> Field:
    return Field(
        attribute=attribute,
        column_name=column or attribute,
        readonly=readonly,
        widget=PlainWidget(),
    )


def _time(attribute: str, column: str | None = None, *, readonly: bool = True) -> Field:
    return Field(
        attribute=attribute,
        column_name=column or attribute,
        readonly=readonly,
        widget=IsoDateTimeWidget(),
    )


def _program_of(resource: TenantResource, row: dict[str, Any]) -> Program | None:
    try:
        return resource.fields["program"].clean(row, lookup_cache=resource.lookup_cache)
    except (ValueError, KeyError):
        return None


class LeadResource(TenantResource):
    """Columns: id, program, name, email, phone, company, external_id, status, partner,
    source, duplicate_of, manager, created_at.

    Import: ``program`` (name or id) and at least one of email, phone, external_id. A
    row whose external_id matches a lead of the program updates its contact data and
    status; any other row is a new lead, credited to ``partner`` (their e-mail; they
    must be an active partner of the program) or else to nobody, and recorded as a
    duplicate when the customer already belongs to someone, as for every lead.
    """

    id = _text("id", readonly=True)
    program = _program_field()
    name = _text("name")
    email = _text("email")
    phone = _text("phone")
    company = _text("company")
    external_id = _text("external_id")
    status = Field(attribute="status", column_name="status", widget=ChoiceWidget(Lead.Status))
    partner = _partner_field(readonly=False)
    source = _text("source", readonly=True)
    duplicate_of = _text("duplicate_of_id", "duplicate_of", readonly=True)
    manager = _text("assigned_to__user__email", "manager", readonly=True)
    created_at = _time("created_at")

    required_columns: ClassVar[tuple[str, ...]] = ("program",)
    key_columns: ClassVar[tuple[str, ...]] = ("program", "external_id")

    class Meta:
        model = Lead
        fields = (
            "id",
            "program",
            "name",
            "email",
            "phone",
            "company",
            "external_id",
            "status",
            "partner",
            "source",
            "duplicate_of",
            "manager",
            "created_at",
        )
        export_order = fields
        skip_unchanged = True
        report_skipped = True
        skip_html_diff = True

    def __init__(self, *, actor: User | None = None, invite: bool = False) -> None:
        super().__init__()
        self.actor = actor

    def get_instance(self, instance_loader: Any, row: dict[str, Any]) -> Lead | None:
        external_id = str(row.get("external_id") or "").strip()
        program = _program_of(self, row)
        if not external_id or program is None:
            return None
        return Lead.objects.filter(program=program, external_id=external_id).first()

    def init_instance(self, row: Any = None) -> Lead:
        return Lead(tenant=require_tenant(), source=Lead.Source.CONSOLE, status="")

    def import_instance(self, instance: Lead, row: dict[str, Any], **kwargs: Any) -> None:
        partner_before, status_before = instance.partner_id, instance.status
        super().import_instance(instance, row, **kwargs)
        if instance._state.adding is False:
            instance.partner_id = partner_before  # credit is never moved by a file
            instance.status = instance.status or status_before
        if not instance.program_id:
            raise ValidationError({"program": _("A program is required.")})

    def do_instance_save(self, instance: Lead, is_create: bool) -> None:
        tenant = require_tenant()
        status = instance.status
        if is_create:
            try:
                lead = lead_create(
                    tenant=tenant,
                    program=instance.program,
                    source=Lead.Source.CONSOLE,
                    partner=instance.partner,
                    actor=self.actor,
                    data=LeadInput(
                        name=instance.name,
                        email=instance.email,
                        phone=instance.phone,
                        company=instance.company,
                        external_id=instance.external_id,
                    ),
                )
            except ValidationError as exc:
                if exc.code == "partner":
                    raise ValidationError(PARTNER_NOT_IN_PROGRAM) from None
                raise
        else:
            lead = lead_update_contact(
                tenant=tenant,
                lead=instance,
                changes={f: getattr(instance, f) for f in ("name", "email", "phone", "company")},
                source="import",
                actor=self.actor,
            )
        if status and status != lead.status:
            lead = lead_set_status(tenant=tenant, lead=lead, status=status, actor=self.actor)
        for field in ("pk", "partner_id", "duplicate_of_id", "status", "email", "phone"):
            setattr(instance, field, getattr(lead, field))
        instance._state.adding = False


class ConversionResource(TenantResource):
    """Columns: id, program, order_id, kind, status, amount, currency, refunded_amount,
    customer_email, customer_external_id, promo_code, partner, lead, occurred_at,
    created_at.

    Import: ``program``, ``order_id`` and ``amount`` (currency: the program's when
    blank; kind: sale). Each row is recorded as the API records a conversion: the
    partner is found by attribution (promo code, the customer's lead, a ``referral_code``
    column with a partner's link code), never taken from the file, and rewards accrue.
    An order id already recorded with the same amount and currency is left as it is;
    with another amount it is an error.
    """

    id = _text("id", readonly=True)
    program = _program_field()
    order_id = _text("external_id", "order_id")
    kind = Field(attribute="kind", column_name="kind", widget=ChoiceWidget(Conversion.Kind))
    status = _text("status", readonly=True)
    amount = Field(attribute="amount", column_name="amount", widget=MoneyWidget())
    currency = _text("currency")
    refunded_amount = Field(
        attribute="refunded_amount",
        column_name="refunded_amount",
        readonly=True,
        widget=MoneyWidget(),
    )
    customer_email = _text("customer_email")
    customer_external_id = _text("customer_external_id")
    promo_code = _text("promo_code")
    partner = _partner_field(readonly=True)
    lead = _text("lead_id", "lead", readonly=True)
    occurred_at = _time("occurred_at", readonly=False)
    created_at = _time("created_at")

    required_columns: ClassVar[tuple[str, ...]] = ("program", "order_id", "amount")
    import_only_columns: ClassVar[tuple[str, ...]] = ("referral_code",)
    key_columns: ClassVar[tuple[str, ...]] = ("program", "order_id")

    class Meta:
        model = Conversion
        fields = (
            "id",
            "program",
            "order_id",
            "kind",
            "status",
            "amount",
            "currency",
            "refunded_amount",
            "customer_email",
            "customer_external_id",
            "promo_code",
            "partner",
            "lead",
            "occurred_at",
            "created_at",
        )
        export_order = fields
        skip_unchanged = True
        report_skipped = True
        skip_html_diff = True

    def __init__(self, *, actor: User | None = None, invite: bool = False) -> None:
        super().__init__()
        self.actor = actor

    def get_instance(self, instance_loader: Any, row: dict[str, Any]) -> Conversion | None:
        order_id = str(row.get("order_id") or "").strip()
        program = _program_of(self, row)
        if not order_id or program is None:
            return None
        return Conversion.objects.filter(program=program, external_id=order_id).first()

    def init_instance(self, row: Any = None) -> Conversion:
        return Conversion(tenant=require_tenant(), kind="")

    def import_instance(self, instance: Conversion, row: dict[str, Any], **kwargs: Any) -> None:
        errors: dict[str, Any] = {}
        try:
            super().import_instance(instance, row, **kwargs)
        except ValidationError as exc:
            errors.update(exc.error_dict)
        if not instance.program_id and "program" not in errors:
            errors["program"] = ValidationError(_("A program is required."))
        if not instance.external_id:
            errors["external_id"] = ValidationError(ORDER_ID_REQUIRED)
        if instance.amount is None and "amount" not in errors:
            errors["amount"] = ValidationError(AMOUNT_REQUIRED)
        instance.currency = (instance.currency or "").upper()
        if not instance.currency and instance.program_id:
            instance.currency = instance.program.currency
        if instance.currency and instance.currency not in CURRENCIES:
            errors["currency"] = ValidationError(UNKNOWN_CURRENCY % {"value": instance.currency})
        instance.kind = instance.kind or Conversion.Kind.SALE
        if errors:
            raise ValidationError(errors)
        instance._referral_code = str(row.get("referral_code") or "").strip()  # type: ignore[attr-defined]

    def skip_row(
        self,
        instance: Conversion,
        original: Conversion | None,
        row: Any,
        import_validation_errors: Any = None,
    ) -> bool:
        """An order id already recorded is left as it is (conversions are never edited);
        with another amount or currency it is the API's conflict."""
        if original is None or original._state.adding or import_validation_errors:
            return False
        if (original.amount, original.currency) != (instance.amount, instance.currency):
            raise ValidationError({"amount": ORDER_ID_REUSED})
        return True

    def do_instance_save(self, instance: Conversion, is_create: bool) -> None:
        data = ConversionInput(
            external_id=instance.external_id,
            amount=instance.amount,
            currency=instance.currency,
            kind=instance.kind,
            customer_email=instance.customer_email,
            customer_external_id=instance.customer_external_id,
            promo_code=instance.promo_code,
            referral_code=getattr(instance, "_referral_code", ""),
            occurred_at=instance.occurred_at,
        )
        conversion, _created = conversion_record(
            tenant=require_tenant(), program=instance.program, data=data
        )
        for field in ("pk", "partner_id", "lead_id", "status", "customer_email", "occurred_at"):
            setattr(instance, field, getattr(conversion, field))
        instance._state.adding = False
