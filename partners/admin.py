from __future__ import annotations

from django.contrib import admin

from partners.models import PartnerProfile
from prm.admin import CrossTenantAdmin


@admin.register(PartnerProfile)
class PartnerProfileAdmin(CrossTenantAdmin):
    list_display = ["user", "tenant", "status", "created_at"]
    list_filter = ["status"]
    search_fields = ["user__email", "display_name", "tenant__slug"]
