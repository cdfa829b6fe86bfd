"""API v1: leads, conversions and refunds from the client's server (secret API key)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.http import Http404
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.decorators import api_view
from rest_framework.request import Request
from rest_framework.response import Response

from prm.access import get_in_tenant_or_404
from prm.models.tenant import CURRENCY_CHOICES
from programs.models import Conversion, Lead, Program
from programs.services.conversions import ConversionInput, conversion_record, refund_record
from programs.services.leads import LeadInput, lead_create
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


def _valid(serializer_class: type[serializers.Serializer], data: Any) -> dict[str, Any]:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data  # type: ignore[return-value]


@extend_schema(request=LeadIn, responses={201: LeadOut})
@api_view(["POST"])
def leads_create(request: Request) -> Response:
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


@extend_schema(responses={200: LeadOut})
@api_view(["GET"])
def lead_detail(request: Request, lead_id: str) -> Response:
    """One lead of this workspace (404 for anything else), with its risk once scored."""
    lead = get_in_tenant_or_404(Lead.objects.select_related("partner", "program"), pk=lead_id)
    return Response(LeadOut(lead).data)


@extend_schema(request=ConversionIn, responses={201: ConversionOut, 200: ConversionOut})
@api_view(["POST"])
def conversions_create(request: Request) -> Response:
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


def _conversion(request: Request, order_id: str, program_id: str | None) -> Conversion:
    program = _program(program_id)
    try:
        return Conversion.objects.get(program=program, external_id=order_id)
    except Conversion.DoesNotExist:
        raise Http404("no conversion with this order id") from None


@extend_schema(responses={200: ConversionOut})
@api_view(["GET"])
def conversion_detail(request: Request, order_id: str) -> Response:
    conversion = _conversion(request, order_id, request.query_params.get("program"))
    return Response(ConversionOut(conversion).data)


@extend_schema(request=RefundIn, responses={201: ConversionOut, 200: ConversionOut})
@api_view(["POST"])
def refunds_create(request: Request, order_id: str) -> Response:
    data = _valid(RefundIn, request.data)
    conversion = _conversion(request, order_id, data.get("program"))
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
