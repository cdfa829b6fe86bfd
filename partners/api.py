"""API v1: partners (registered from the client's own sign-up form), their status,
links, promo codes and balances."""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch, QuerySet
from django.urls import path
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from partners.invites import partner_register
from partners.models import PartnerProfile
from partners.services import partner_set_status
from prm.access import get_in_tenant_or_404
from prm.api_support import (
    IDEMPOTENCY_PARAMETER,
    CursorPage,
    FilteredListMixin,
    idempotent,
    list_parameters,
)
from programs.api import ERRORS, WRITE_ERRORS, _program, _valid
from programs.links import platform_link, referral_link
from programs.models import Enrollment, PromoCode

# Statuses the API may set: approve (or unblock), block, reject an application.
SETTABLE = [
    PartnerProfile.Status.ACTIVE,
    PartnerProfile.Status.BLOCKED,
    PartnerProfile.Status.REJECTED,
]


class PartnerOut(serializers.ModelSerializer):
    email = serializers.EmailField(source="user.email")
    name = serializers.CharField(source="display_name")

    class Meta:
        model = PartnerProfile
        fields = ["id", "email", "name", "company", "status", "country", "created_at"]


class EnrollmentOut(serializers.Serializer):
    program = serializers.UUIDField(source="program_id")
    program_name = serializers.CharField(source="program.name")
    status = serializers.CharField()
    referral_code = serializers.CharField(source="code")
    link = serializers.CharField(help_text="Straight to the site, read by the snippet.")
    platform_link = serializers.CharField(help_text="Through the platform's /r/ redirect.")


class PartnerPromoOut(serializers.Serializer):
    code = serializers.CharField()
    program = serializers.UUIDField(source="program_id")
    is_active = serializers.BooleanField()


class BalanceOut(serializers.Serializer):
    currency = serializers.CharField()
    pending = serializers.DecimalField(max_digits=14, decimal_places=2)
    available = serializers.DecimalField(max_digits=14, decimal_places=2)
    processing = serializers.DecimalField(max_digits=14, decimal_places=2)
    paid = serializers.DecimalField(max_digits=14, decimal_places=2)


class PartnerDetailOut(PartnerOut):
    """A partner with their programs (referral code and links), promo codes and balances
    per currency (from the ledger)."""

    programs = serializers.SerializerMethodField()
    promo_codes = serializers.SerializerMethodField()
    balances = serializers.SerializerMethodField()

    class Meta(PartnerOut.Meta):
        fields = [*PartnerOut.Meta.fields, "status_reason", "programs", "promo_codes", "balances"]

    @extend_schema_field(EnrollmentOut(many=True))
    def get_programs(self, partner: PartnerProfile) -> list[dict[str, Any]]:
        tenant = partner.tenant
        rows = []
        for enrollment in partner.api_enrollments:  # type: ignore[attr-defined]
            enrollment.link = referral_link(enrollment.program, enrollment.code)
            enrollment.platform_link = platform_link(tenant, enrollment.program, enrollment.code)
            rows.append(EnrollmentOut(enrollment).data)
        return rows

    @extend_schema_field(PartnerPromoOut(many=True))
    def get_promo_codes(self, partner: PartnerProfile) -> list[dict[str, Any]]:
        return PartnerPromoOut(partner.api_promo_codes, many=True).data  # type: ignore[attr-defined]

    @extend_schema_field(BalanceOut(many=True))
    def get_balances(self, partner: PartnerProfile) -> list[dict[str, Any]]:
        from rewards.services.ledger import balances

        return BalanceOut(list(balances(partner).values()), many=True).data


class PartnerIn(serializers.Serializer):
    email = serializers.EmailField(max_length=254)
    name = serializers.CharField(max_length=120, required=False, allow_blank=True, default="")
    program = serializers.UUIDField(
        required=False, help_text="Needed when the workspace has several active programs."
    )
    invite = serializers.BooleanField(
        default=False,
        help_text="E-mail a new partner a link to set a password and open the cabinet.",
    )


class PartnerPatchIn(serializers.Serializer):
    status = serializers.ChoiceField(choices=[(s.value, s.label) for s in SETTABLE])
    reason = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")


def _detail(partner_id: Any) -> PartnerProfile:
    queryset = PartnerProfile.objects.select_related("user", "tenant").prefetch_related(
        Prefetch(
            "enrollments",
            queryset=Enrollment.objects.select_related("program").order_by("created_at"),
            to_attr="api_enrollments",
        ),
        Prefetch(
            "promo_codes",
            queryset=PromoCode.objects.order_by("created_at"),
            to_attr="api_promo_codes",
        ),
    )
    return get_in_tenant_or_404(queryset, pk=partner_id)


class PartnersView(FilteredListMixin, generics.GenericAPIView):
    """Partners: list (newest first; ``program`` lists those enrolled in it) and register
    one from your own sign-up form."""

    api_scope = "partners"
    pagination_class = type("Cursor", (CursorPage,), {"ordering": ("-created_at", "-id")})
    statuses = PartnerProfile.Status.values
    filter_fields = {
        "status": "status",
        "program": "enrollments__program_id",
        "partner": None,
        "date": "created_at",
    }
    serializer_class = PartnerOut

    def get_queryset(self) -> QuerySet[PartnerProfile]:
        return PartnerProfile.objects.select_related("user")

    @extend_schema(
        parameters=list_parameters(PartnerProfile.Status.values, partner=False),
        responses={200: PartnerOut(many=True), **ERRORS},
    )
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(PartnerOut(page, many=True).data)

    @extend_schema(
        request=PartnerIn,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses={201: PartnerDetailOut, 200: PartnerDetailOut, **WRITE_ERRORS},
        description=(
            "Register a partner (status pending when the workspace approves partners) and "
            "enroll them in the program. The same e-mail again answers 200 with the partner."
        ),
    )
    @idempotent
    def post(self, request: Request) -> Response:
        data = _valid(PartnerIn, request.data)
        program = _program(str(data["program"]) if data.get("program") else None)
        partner, created = partner_register(
            tenant=request.tenant,  # type: ignore[attr-defined]
            email=data["email"],
            display_name=data["name"],
            program=program,
            invite=data["invite"],
        )
        return Response(
            PartnerDetailOut(_detail(partner.pk)).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class PartnerView(generics.GenericAPIView):
    """One partner; PATCH approves (``active``), blocks or rejects them, like the console
    (the partner is e-mailed; a blocked partner's links stop crediting)."""

    api_scope = "partners"
    serializer_class = PartnerDetailOut

    @extend_schema(responses={200: PartnerDetailOut, **ERRORS})
    def get(self, request: Request, partner_id: Any) -> Response:
        return Response(PartnerDetailOut(_detail(partner_id)).data)

    @extend_schema(request=PartnerPatchIn, responses={200: PartnerDetailOut, **ERRORS})
    def patch(self, request: Request, partner_id: Any) -> Response:
        partner = _detail(partner_id)
        data = _valid(PartnerPatchIn, request.data)
        partner_set_status(
            tenant=request.tenant,  # type: ignore[attr-defined]
            actor=None,  # type: ignore[arg-type]
            partner=partner,
            status=data["status"],
            reason=data["reason"],
            request=request._request,  # the audit entry's client address
        )
        return Response(PartnerDetailOut(_detail(partner.pk)).data)


api_patterns = [
    path("api/v1/partners", PartnersView.as_view(), name="api_partners"),
    path("api/v1/partners/<uuid:partner_id>", PartnerView.as_view(), name="api_partner"),
]
