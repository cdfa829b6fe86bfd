"""API v1: rewards and payouts, read-only, with filters (partner, status, period)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers
from rest_framework.request import Request
from rest_framework.response import Response

from prm.access import get_in_tenant_or_404
from prm.api_support import CursorPage, FilteredListMixin, list_parameters
from programs.api import ERRORS
from rewards.models import PayoutRequest, Reward


class RewardOut(serializers.ModelSerializer):
    partner_id = serializers.UUIDField()
    program = serializers.UUIDField(source="program_id")
    conversion = serializers.UUIDField(source="conversion_id", allow_null=True)
    lead = serializers.UUIDField(source="lead_id", allow_null=True)

    class Meta:
        model = Reward
        fields = [
            "id",
            "partner_id",
            "program",
            "kind",
            "level",
            "amount",
            "currency",
            "status",
            "reason",
            "conversion",
            "lead",
            "available_at",
            "decided_at",
            "created_at",
        ]


class PayoutOut(serializers.ModelSerializer):
    partner_id = serializers.UUIDField()
    method = serializers.CharField(source="method.name")

    class Meta:
        model = PayoutRequest
        fields = [
            "id",
            "partner_id",
            "method",
            "details_masked",
            "amount",
            "fee",
            "currency",
            "status",
            "reason",
            "scheduled",
            "created_at",
            "decided_at",
            "paid_at",
        ]


class _List(FilteredListMixin, generics.GenericAPIView):
    api_scope = "rewards"
    pagination_class = type("Cursor", (CursorPage,), {"ordering": ("-created_at", "-id")})

    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(self.get_serializer(page, many=True).data)


class RewardsView(_List):
    """Rewards, newest first (``created_after``/``created_before``: the period)."""

    serializer_class = RewardOut
    statuses = Reward.Status.values

    def get_queryset(self) -> QuerySet[Reward]:
        return Reward.objects.all()

    @extend_schema(
        parameters=list_parameters(Reward.Status.values),
        responses={200: RewardOut(many=True), **ERRORS},
    )
    def get(self, request: Request) -> Response:
        return super().get(request)


class PayoutsView(_List):
    """Payouts (withdrawals), newest first."""

    serializer_class = PayoutOut
    statuses = PayoutRequest.Status.values
    filter_fields = {"status": "status", "program": None, "partner": "partner_id"}

    def get_queryset(self) -> QuerySet[PayoutRequest]:
        return PayoutRequest.objects.select_related("method")

    @extend_schema(
        parameters=[p for p in list_parameters(PayoutRequest.Status.values) if p.name != "program"],
        responses={200: PayoutOut(many=True), **ERRORS},
    )
    def get(self, request: Request) -> Response:
        return super().get(request)


class RewardView(generics.GenericAPIView):
    api_scope = "rewards"
    serializer_class = RewardOut

    @extend_schema(responses={200: RewardOut, **ERRORS})
    def get(self, request: Request, reward_id: Any) -> Response:
        return Response(RewardOut(get_in_tenant_or_404(Reward, pk=reward_id)).data)


class PayoutView(generics.GenericAPIView):
    api_scope = "rewards"
    serializer_class = PayoutOut

    @extend_schema(responses={200: PayoutOut, **ERRORS})
    def get(self, request: Request, payout_id: Any) -> Response:
        payout = get_in_tenant_or_404(PayoutRequest.objects.select_related("method"), pk=payout_id)
        return Response(PayoutOut(payout).data)


api_patterns = [
    path("api/v1/rewards", RewardsView.as_view(), name="api_rewards"),
    path("api/v1/rewards/<uuid:reward_id>", RewardView.as_view(), name="api_reward"),
    path("api/v1/payouts", PayoutsView.as_view(), name="api_payouts"),
    path("api/v1/payouts/<uuid:payout_id>", PayoutView.as_view(), name="api_payout"),
]
