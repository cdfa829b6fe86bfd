"""Operators' Django admin (/ops/admin/ on the platform host, superusers only).

Operators look across tenants by definition, so every admin here reads through the
unscoped manager.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest

from prm.models import (
    AuditEntry,
    Branding,
    Invitation,
    Job,
    Membership,
    Tenant,
    TenantDomain,
    User,
)


class CrossTenantAdmin(admin.ModelAdmin):
    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return self.model.all_tenants_unscoped.all()  # operators see every tenant


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    ordering = ["email"]
    list_display = ["email", "first_name", "last_name", "is_superuser", "date_joined"]
    search_fields = ["email", "first_name", "last_name"]
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Personal", {"fields": ("first_name", "last_name")}),
        ("Operator", {"fields": ("is_active", "is_staff", "is_superuser")}),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)


@admin.register(Tenant)
class TenantAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "default_currency", "language", "is_active", "created_at"]
    search_fields = ["name", "slug"]
    list_filter = ["is_active", "language"]


@admin.register(TenantDomain)
class TenantDomainAdmin(CrossTenantAdmin):
    list_display = ["domain", "tenant", "is_verified", "created_at"]
    list_filter = ["is_verified"]
    list_editable = ["is_verified"]
    search_fields = ["domain"]


@admin.register(Membership)
class MembershipAdmin(CrossTenantAdmin):
    list_display = ["user", "tenant", "role", "created_at"]
    list_filter = ["role"]
    search_fields = ["user__email", "tenant__slug"]


@admin.register(Invitation)
class InvitationAdmin(CrossTenantAdmin):
    list_display = ["email", "tenant", "role", "status", "created_at"]
    list_filter = ["status"]


@admin.register(AuditEntry)
class AuditEntryAdmin(CrossTenantAdmin):
    list_display = ["created_at", "tenant", "actor_email", "action", "object_repr", "ip"]
    list_filter = ["action"]
    search_fields = ["actor_email", "object_repr", "tenant__slug"]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # the audit log is append-only


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = ["created_at", "func", "queue", "tenant", "status", "attempts"]
    list_filter = ["status", "queue"]
    search_fields = ["func", "error"]


@admin.register(Branding)
class BrandingAdmin(CrossTenantAdmin):
    """Read-only for operators: uploads are checked by the console's form only
    (prm.images), so the admin must not become a way around it."""

    list_display = ["tenant", "primary_color", "accent_color", "font", "version", "updated_at"]
    list_select_related = ["tenant"]
    search_fields = ["tenant__name", "tenant__slug"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
