"""API v1: leads, conversions and refunds, promo codes (secret API key with scopes)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db.models import QuerySet
from django.http import Http404
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from partners.models import PartnerProfile
from prm.access import get_in_tenant_or_404
from prm.api_errors import ErrorOut
from prm.api_support import (
    IDEMPOTENCY_PARAMETER,
    CursorPage,
    FilteredListMixin,
    idempotent,
    list_parameters,
)
from prm.models.tenant import CURRENCY_CHOICES
from programs.models import Conversion, Lead, Program, PromoCode
from programs.services.conversions import ConversionInput, conversion_record, refund_record
from programs.services.leads import LeadInput, lead_create, lead_set_status, lead_update_contact
from programs.services.trace import payer_key

ONE_PROGRAM = "Name the program: this workspace has more than one active program."


def _program(program_id: str | None) -> Program:
    if program_id:
        return get_in_tenant_or_404(Program, pk=program_id)
    active = list(Program.objects.filter(status=Program.Status.ACTIVE)[:2])
    if len(active) != 1:
        raise serializers.ValidationError({"program": [ONE_PROGRAM]})
    return active[0]


class VisitorFields(serializers.Serializer):
    """The visitor's request as the client's server saw it: used for antifraud (many
    leads from one address, self-referral), stored under the workspace's IP setting."""

    ip = serializers.IPAddressField(
        required=False,
        allow_blank=True,
        default="",
        help_text="The visitor's IP address (IPv4 or IPv6), not your server's.",
    )
    user_agent = serializers.CharField(
        max_length=1000,
        required=False,
        allow_blank=True,
        default="",
        help_text="The visitor's User-Agent header.",
    )


class PayerIn(serializers.Serializer):
    """The payment instrument, as fingerprints only (never a full card number): compared
    with the partner's own payout details to catch partners buying through their own
    links. Give one of: the card's BIN and last four digits, an IBAN, or a wallet
    (e-mail or wallet id)."""

    card_bin = serializers.RegexField(r"^[0-9]{6,8}$", required=False)
    card_last4 = serializers.RegexField(r"^[0-9]{4}$", required=False)
    iban = serializers.RegexField(r"^[A-Za-z]{2}[0-9]{2}[A-Za-z0-9 ]{11,40}$", required=False)
    wallet = serializers.CharField(max_length=254, required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if bool(attrs.get("card_bin")) != bool(attrs.get("card_last4")):
            raise serializers.ValidationError("Give card_bin and card_last4 together.")
        return attrs


class LeadIn(VisitorFields):
    program = serializers.UUIDField(required=False)
    name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    email = serializers.CharField(max_length=254, required=False, allow_blank=True, default="")
    phone = serializers.CharField(max_length=40, required=False, allow_blank=True, default="")
    company = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    external_id = serializers.CharField(
        max_length=128, required=False, allow_blank=True, default=""
    )
    visitor_id = serializers.RegexField(
        r"^[A-Za-z0-9_-]{8,64}$", required=False, allow_blank=True, default=""
    )
    referral_code = serializers.CharField(
        max_length=64, required=False, allow_blank=True, default=""
    )


class ReferredRewardMixin(serializers.Serializer):
    """Double-sided programs: what the referred customer gets (for the client to apply)."""

    referred_reward = serializers.SerializerMethodField()

    def get_referred_reward(self, obj: Any) -> dict[str, str] | None:
        from rewards.services.accrual import referred_reward

        if obj.partner is None:
            return None
        return referred_reward(obj.program, obj.partner)


class RiskReasonOut(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()


class RiskOut(serializers.Serializer):
    score = serializers.IntegerField(min_value=0, max_value=100)
    level = serializers.ChoiceField(choices=["ok", "review", "reject"])
    reasons = RiskReasonOut(many=True)


class RiskMixin(serializers.Serializer):
    """The antifraud score once the lead or conversion is scored (null before)."""

    risk = serializers.SerializerMethodField()

    @extend_schema_field(RiskOut(allow_null=True))
    def get_risk(self, obj: Any) -> dict[str, Any] | None:
        from antifraud.services.explain import risk_summary

        if isinstance(obj, Lead):
            return risk_summary(lead=obj)
        return risk_summary(conversion=obj)


class LeadOut(RiskMixin, ReferredRewardMixin, serializers.ModelSerializer):
    partner = serializers.StringRelatedField()
    duplicate_of = serializers.UUIDField(source="duplicate_of_id", allow_null=True)

    class Meta:
        model = Lead
        fields = [
            "id",
            "program",
            "status",
            "source",
            "name",
            "email",
            "phone",
            "external_id",
            "partner",
            "duplicate_of",
            "owned_until",
            "attribution",
            "created_at",
            "referred_reward",
            "risk",
        ]


class ConversionIn(VisitorFields):
    program = serializers.UUIDField(required=False)
    order_id = serializers.CharField(max_length=128)
    # A sale of 0 is an integration's mistake, not a sale: refused with a clear 400.
    amount = serializers.DecimalField(max_digits=14, decimal_places=2, min_value=Decimal("0.01"))
    currency = serializers.ChoiceField(choices=[c for c, _ in CURRENCY_CHOICES])
    kind = serializers.ChoiceField(choices=Conversion.Kind.choices, default=Conversion.Kind.SALE)
    customer_email = serializers.CharField(
        max_length=254, required=False, allow_blank=True, default=""
    )
    customer_id = serializers.CharField(
        max_length=128, required=False, allow_blank=True, default=""
    )
    visitor_id = serializers.RegexField(
        r"^[A-Za-z0-9_-]{8,64}$", required=False, allow_blank=True, default=""
    )
    promo_code = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    referral_code = serializers.CharField(
        max_length=64, required=False, allow_blank=True, default=""
    )
    occurred_at = serializers.DateTimeField(required=False)
    payer = PayerIn(required=False)


class ConversionOut(RiskMixin, ReferredRewardMixin, serializers.ModelSerializer):
    order_id = serializers.CharField(source="external_id")
    partner = serializers.StringRelatedField()
    lead = serializers.UUIDField(source="lead_id", allow_null=True)

    class Meta:
        model = Conversion
        fields = [
            "id",
            "program",
            "order_id",
            "kind",
            "status",
            "amount",
            "currency",
            "refunded_amount",
            "partner",
            "lead",
            "promo_code",
            "attribution",
            "occurred_at",
            "referred_reward",
            "risk",
        ]


class RefundIn(serializers.Serializer):
    program = serializers.UUIDField(required=False)
    refund_id = serializers.CharField(max_length=128)
    amount = serializers.DecimalField(
        max_digits=14, decimal_places=2, min_value=Decimal("0.01"), required=False
    )
    reason = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class LeadListOut(serializers.ModelSerializer):
    """A lead in a list (its risk and the customer's reward: read one lead)."""

    partner = serializers.StringRelatedField()
    partner_id = serializers.UUIDField(allow_null=True)
    duplicate_of = serializers.UUIDField(source="duplicate_of_id", allow_null=True)

    class Meta:
        model = Lead
        fields = [
            "id",
            "program",
            "status",
            "source",
            "name",
            "email",
            "phone",
            "company",
            "external_id",
            "partner",
            "partner_id",
            "duplicate_of",
            "owned_until",
            "created_at",
        ]


class LeadPatchIn(serializers.Serializer):
    status = serializers.ChoiceField(choices=Lead.Status.choices, required=False)
    name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    email = serializers.EmailField(max_length=254, required=False, allow_blank=True)
    phone = serializers.CharField(max_length=40, required=False, allow_blank=True)
    company = serializers.CharField(max_length=200, required=False, allow_blank=True)


class ConversionListOut(serializers.ModelSerializer):
    order_id = serializers.CharField(source="external_id")
    partner = serializers.StringRelatedField()
    partner_id = serializers.UUIDField(allow_null=True)
    lead = serializers.UUIDField(source="lead_id", allow_null=True)

    class Meta:
        model = Conversion
        fields = [
            "id",
            "program",
            "order_id",
            "kind",
            "status",
            "amount",
            "currency",
            "refunded_amount",
            "partner",
            "partner_id",
            "lead",
            "promo_code",
            "occurred_at",
            "created_at",
        ]


class PromoCodeIn(serializers.Serializer):
    partner = serializers.UUIDField()
    program = serializers.UUIDField(required=False)
    code = serializers.RegexField(
        r"^[A-Za-z0-9_-]{3,64}$",
        required=False,
        allow_blank=True,
        default="",
        help_text="Your own code; a random one when empty.",
    )


class NamedRef(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()


class CustomerRewardOut(serializers.Serializer):
    kind = serializers.CharField(help_text="What the customer gets, e.g. percent or fixed.")
    value = serializers.CharField()


class PromoCodeOut(serializers.ModelSerializer):
    partner_id = serializers.UUIDField()

    class Meta:
        model = PromoCode
        fields = ["id", "code", "program", "partner_id", "is_active", "created_at"]


class PromoCheckOut(serializers.Serializer):
    """A promo code that is valid at checkout now."""

    code = serializers.CharField()
    valid = serializers.BooleanField()
    program = NamedRef()
    partner = NamedRef()
    customer_discount = CustomerRewardOut(
        allow_null=True, help_text="What the referred customer gets (null: nothing)."
    )


ERRORS = {
    400: OpenApiResponse(ErrorOut, description="invalid input"),
    401: OpenApiResponse(ErrorOut, description="no or bad API key"),
    403: OpenApiResponse(ErrorOut, description="the key lacks the scope"),
    404: OpenApiResponse(ErrorOut, description="not found in this workspace"),
    429: OpenApiResponse(ErrorOut, description="rate limited; see Retry-After"),
}
WRITE_ERRORS = {
    **ERRORS,
    409: OpenApiResponse(ErrorOut, description="Idempotency-Key still in use"),
    422: OpenApiResponse(ErrorOut, description="Idempotency-Key reused with another body"),
}


def _valid(serializer_class: type[serializers.Serializer], data: Any) -> dict[str, Any]:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data  # type: ignore[return-value]


def cursor(*ordering: str) -> type[CursorPage]:
    return type("Cursor", (CursorPage,), {"ordering": ordering})


class LeadsView(FilteredListMixin, generics.GenericAPIView):
    """Leads: list (newest first) and create."""

    api_scope = "leads"
    pagination_class = cursor("-created_at", "-id")
    statuses = Lead.Status.values
    serializer_class = LeadListOut

    def get_queryset(self) -> QuerySet[Lead]:
        return Lead.objects.select_related("partner__user")

    @extend_schema(
        parameters=list_parameters(Lead.Status.values),
        responses={200: LeadListOut(many=True), **ERRORS},
    )
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(LeadListOut(page, many=True).data)

    @extend_schema(
        request=LeadIn,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses={201: LeadOut, **WRITE_ERRORS},
    )
    @idempotent
    def post(self, request: Request) -> Response:
        data = _valid(LeadIn, request.data)
        program = _program(data.pop("program", None))
        lead = lead_create(
            tenant=request.tenant,  # type: ignore[attr-defined]
            program=program,
            source=Lead.Source.API,
            data=LeadInput(
                name=data["name"],
                email=data["email"],
                phone=data["phone"],
                company=data["company"],
                external_id=data["external_id"],
                visitor_id=data["visitor_id"],
                referral_code=data["referral_code"],
                ip=data["ip"],
                user_agent=data["user_agent"],
            ),
        )
        return Response(LeadOut(lead).data, status=status.HTTP_201_CREATED)


class LeadView(generics.GenericAPIView):
    """One lead of this workspace (404 for anything else), with its risk once scored;
    PATCH moves its status and changes its contact fields (recorded in its history)."""

    api_scope = "leads"
    serializer_class = LeadOut

    def _lead(self, lead_id: Any) -> Lead:
        return get_in_tenant_or_404(
            Lead.objects.select_related("partner__user", "program"), pk=lead_id
        )

    @extend_schema(responses={200: LeadOut, **ERRORS})
    def get(self, request: Request, lead_id: Any) -> Response:
        return Response(LeadOut(self._lead(lead_id)).data)

    @extend_schema(request=LeadPatchIn, responses={200: LeadOut, **ERRORS})
    def patch(self, request: Request, lead_id: Any) -> Response:
        lead = self._lead(lead_id)
        data = _valid(LeadPatchIn, request.data)
        tenant = request.tenant  # type: ignore[attr-defined]
        if "status" in data:
            lead = lead_set_status(tenant=tenant, lead=lead, status=data.pop("status"), actor=None)
        if data:
            lead = lead_update_contact(tenant=tenant, lead=lead, changes=data, source="api")
        return Response(LeadOut(self._lead(lead.pk)).data)


class ConversionsView(FilteredListMixin, generics.GenericAPIView):
    """Conversions: list (by when they happened, newest first) and record."""

    api_scope = "conversions"
    pagination_class = cursor("-occurred_at", "-id")
    statuses = Conversion.Status.values
    filter_fields = {
        "status": "status",
        "program": "program_id",
        "partner": "partner_id",
        "date": "occurred_at",
    }
    serializer_class = ConversionListOut

    def get_queryset(self) -> QuerySet[Conversion]:
        return Conversion.objects.select_related("partner__user")

    @extend_schema(
        parameters=list_parameters(Conversion.Status.values),
        responses={200: ConversionListOut(many=True), **ERRORS},
        description="created_after / created_before filter on when the sale happened.",
    )
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(ConversionListOut(page, many=True).data)

    @extend_schema(
        request=ConversionIn,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses={201: ConversionOut, 200: ConversionOut, **WRITE_ERRORS},
    )
    @idempotent
    def post(self, request: Request) -> Response:
        data = _valid(ConversionIn, request.data)
        program = _program(data.get("program"))
        conversion, created = conversion_record(
            tenant=request.tenant,  # type: ignore[attr-defined]
            program=program,
            data=ConversionInput(
                external_id=data["order_id"],
                amount=data["amount"],
                currency=data["currency"],
                kind=data["kind"],
                customer_email=data["customer_email"],
                customer_external_id=data["customer_id"],
                visitor_id=data["visitor_id"],
                promo_code=data["promo_code"],
                referral_code=data["referral_code"],
                occurred_at=data.get("occurred_at"),
                ip=data["ip"],
                user_agent=data["user_agent"],
                payer=payer_key(**data.get("payer", {})),
            ),
        )
        return Response(
            ConversionOut(conversion).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


def _conversion(order_id: str, program_id: Any) -> Conversion:
    program = _program(str(program_id) if program_id else None)
    conversion = (
        Conversion.objects.select_related("partner__user")
        .filter(program=program, external_id=order_id[:128])
        .first()
    )
    if conversion is None:
        raise Http404("no conversion with this order id")
    return conversion


class ProgramQueryIn(serializers.Serializer):
    program = serializers.UUIDField(required=False)


class ConversionView(generics.GenericAPIView):
    api_scope = "conversions"
    serializer_class = ConversionOut

    @extend_schema(
        parameters=[ProgramQueryIn],
        responses={200: ConversionOut, **ERRORS},
        description="One conversion by your order id, with its attribution trail.",
    )
    def get(self, request: Request, order_id: str) -> Response:
        query = _valid(ProgramQueryIn, request.query_params)
        return Response(ConversionOut(_conversion(order_id, query.get("program"))).data)


class RefundsView(generics.GenericAPIView):
    api_scope = "conversions"
    serializer_class = ConversionOut

    @extend_schema(
        request=RefundIn,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses={201: ConversionOut, 200: ConversionOut, **WRITE_ERRORS},
        description="Refund a conversion (idempotent by refund_id); omit amount for all.",
    )
    @idempotent
    def post(self, request: Request, order_id: str) -> Response:
        data = _valid(RefundIn, request.data)
        conversion = _conversion(order_id, data.get("program"))
        _, created = refund_record(
            tenant=request.tenant,  # type: ignore[attr-defined]
            conversion=conversion,
            external_id=data["refund_id"],
            amount=data.get("amount"),
            reason=data["reason"],
        )
        conversion.refresh_from_db()
        return Response(
            ConversionOut(conversion).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class PromoCodesView(generics.GenericAPIView):
    """Create a promo code for a partner enrolled in the program."""

    api_scope = "partners"
    serializer_class = PromoCodeOut

    @extend_schema(
        request=PromoCodeIn,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses={201: PromoCodeOut, **WRITE_ERRORS},
    )
    @idempotent
    def post(self, request: Request) -> Response:
        from programs.services.enrollments import promo_code_create

        data = _valid(PromoCodeIn, request.data)
        partner = get_in_tenant_or_404(PartnerProfile, pk=data["partner"])
        program = _program(str(data["program"]) if data.get("program") else None)
        promo = promo_code_create(
            tenant=request.tenant,  # type: ignore[attr-defined]
            program=program,
            partner=partner,
            code=data["code"],
        )
        return Response(PromoCodeOut(promo).data, status=status.HTTP_201_CREATED)


class PromoCodeView(generics.GenericAPIView):
    """Check a code at checkout: valid now (active code, partner and enrollment, active
    program) gives its partner, program and what the customer gets; otherwise 404."""

    api_scope = "partners"
    serializer_class = PromoCheckOut

    @extend_schema(responses={200: PromoCheckOut, **ERRORS})
    def get(self, request: Request, code: str) -> Response:
        from programs.services.attribution import _enrollment, _ineligible
        from rewards.services.accrual import referred_reward

        promo = (
            PromoCode.objects.select_related("partner__user", "program")
            .filter(code__iexact=code.replace("\x00", "").strip()[:64], is_active=True)
            .first()
        )
        if promo is None or _ineligible(
            promo.program, _enrollment(promo.program, promo.partner_id), promo.partner
        ):
            raise Http404("no valid promo code")
        body = {
            "code": promo.code,
            "valid": True,
            "program": {"id": promo.program.pk, "name": promo.program.name},
            "partner": {"id": promo.partner.pk, "name": str(promo.partner)},
            "customer_discount": referred_reward(promo.program, promo.partner),
        }
        return Response(PromoCheckOut(body).data)


class ProgramOut(serializers.ModelSerializer):
    class Meta:
        model = Program
        fields = ["id", "name", "kind", "status", "currency", "publishable_key", "created_at"]


class ProgramsView(FilteredListMixin, generics.GenericAPIView):
    """The workspace's programs (their ids are what ``program`` takes elsewhere)."""

    api_scope = "partners"
    pagination_class = cursor("-created_at", "-id")
    statuses = Program.Status.values
    filter_fields = {"status": "status", "program": None, "partner": None, "date": "created_at"}
    serializer_class = ProgramOut

    def get_queryset(self) -> QuerySet[Program]:
        return Program.objects.all()

    @extend_schema(
        parameters=[
            p for p in list_parameters(Program.Status.values, partner=False) if p.name != "program"
        ],
        responses={200: ProgramOut(many=True), **ERRORS},
    )
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(ProgramOut(page, many=True).data)
