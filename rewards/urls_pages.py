"""Console and cabinet pages of rewards and payouts (wired into prm.urls_tenant)."""

from __future__ import annotations

from django.urls import URLPattern

console_patterns: list[URLPattern] = []
cabinet_patterns: list[URLPattern] = []
