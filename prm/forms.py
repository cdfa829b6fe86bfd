from __future__ import annotations

import re
from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.password_validation import validate_password
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from prm.models import Role, Tenant, TenantDomain, User
from prm.models.tenant import slug_validator
from prm.permissions import assignable_roles
from prm.services.errors import SLUG_RESERVED, SLUG_TAKEN


class WorkspaceForm(forms.Form):
    """The landing page's "create a workspace" form."""

    name = forms.CharField(label=_("Company name"), max_length=120)
    slug = forms.CharField(
        label=_("Workspace address"),
        max_length=40,
        validators=[slug_validator],
        # Lazy: formatted per request, in the visitor's language.
        help_text=format_lazy(
            _("Your partners will find you at <address>.{domain}"), domain=settings.PRM_BASE_DOMAIN
        ),
    )
    email = forms.EmailField(label=_("Your work e-mail"))
    password = forms.CharField(label=_("Password"), widget=forms.PasswordInput)

    def clean_slug(self) -> str:
        slug = self.cleaned_data["slug"].lower()
        if slug in settings.PRM_RESERVED_SLUGS:
            raise forms.ValidationError(SLUG_RESERVED)
        if Tenant.objects.filter(slug=slug).exists():
            raise forms.ValidationError(SLUG_TAKEN)
        return slug

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        email, password = data.get("email"), data.get("password")
        if not email or not password:
            return data
        email = email.lower()
        data["email"] = email
        existing = User.objects.filter(email__iexact=email).first()
        if existing is not None:
            # An existing account may open another workspace with its own password.
            user = authenticate(email=email, password=password)
            if user is None:
                self.add_error(
                    "password",
                    _("An account with this e-mail exists: enter its password to continue."),
                )
            data["user"] = user
        else:
            try:
                validate_password(password, User(email=email))
            except forms.ValidationError as exc:
                self.add_error("password", exc)
        return data


class TenantSettingsForm(forms.ModelForm):
    class Meta:
        model = Tenant
        fields = ["name", "default_currency", "language", "timezone", "partner_signup_open"]


class SecurityForm(forms.ModelForm):
    class Meta:
        model = Tenant
        fields = ["require_staff_2fa"]


class DomainForm(forms.Form):
    domain = forms.CharField(label=_("Custom domain"), max_length=253)

    def clean_domain(self) -> str:
        domain = self.cleaned_data["domain"].strip().lower().rstrip(".")
        if not re.fullmatch(r"([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}", domain):
            raise forms.ValidationError(_("Enter a domain name such as partners.example.com."))
        if domain == settings.PRM_PLATFORM_HOST or domain.endswith("." + settings.PRM_BASE_DOMAIN):
            raise forms.ValidationError(_("This domain belongs to the platform."))
        if TenantDomain.all_tenants_unscoped.filter(domain=domain).exists():  # global uniqueness
            raise forms.ValidationError(_("This domain is already connected to a workspace."))
        return domain


class InviteForm(forms.Form):
    email = forms.EmailField(label=_("E-mail"))
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices)

    def __init__(self, *args: Any, actor_role: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["role"].choices = [(r.value, r.label) for r in assignable_roles(actor_role)]


class RoleForm(forms.Form):
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices)


class AuditFilterForm(forms.Form):
    action = forms.CharField(label=_("Action"), required=False, max_length=64)
    actor = forms.CharField(label=_("Who"), required=False, max_length=254)
    object_type = forms.CharField(label=_("Object type"), required=False, max_length=64)
    since = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    until = forms.DateField(
        label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )


class ApiKeyForm(forms.Form):
    name = forms.CharField(
        label=_("Name"),
        max_length=80,
        help_text=_("Where the key is used, e.g. “Shop backend”."),
    )
