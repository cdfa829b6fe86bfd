from __future__ import annotations

import re
from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth.forms import SetPasswordMixin
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from prm.models import Role, Tenant, TenantDomain, User
from prm.models.tenant import slug_validator
from prm.permissions import assignable_roles
from prm.services.errors import SLUG_RESERVED, SLUG_TAKEN


class WorkspaceForm(forms.Form):
    """The landing page's "create a workspace" form.

    No password and no account lookup: the answer is the same whether the address has
    an account or not (prm.services.workspace_signup). Only the slug is checked here; a
    taken address is public, not account information.
    """

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
    email = forms.EmailField(label=_("Your work e-mail"), max_length=254)  # User.email

    def clean_slug(self) -> str:
        slug = self.cleaned_data["slug"].lower()
        if slug in settings.PRM_RESERVED_SLUGS:
            raise forms.ValidationError(SLUG_RESERVED)
        if Tenant.objects.filter(slug=slug).exists():
            raise forms.ValidationError(SLUG_TAKEN)
        return slug

    def clean_email(self) -> str:
        return self.cleaned_data["email"].strip().lower()


class WorkspacePasswordForm(SetPasswordMixin, forms.Form):
    """The password of a new account, asked on the page the e-mailed link opens."""

    password1, password2 = SetPasswordMixin.create_password_fields()

    def __init__(self, *args: Any, email: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.email = email

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        self.validate_passwords()
        self.validate_password_for_user(User(email=self.email))
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


def _scope_choices() -> list[tuple[str, Any]]:
    from prm.models.apikey import SCOPE_GROUPS

    levels = {"read": _("read"), "write": _("write")}
    return [
        (f"{group}:{level}", format_lazy("{} — {}", label, levels[level]))
        for group, label in SCOPE_GROUPS.items()
        for level in levels
    ]


class ApiKeyForm(forms.Form):
    name = forms.CharField(
        label=_("Name"),
        max_length=80,
        help_text=_("Where the key is used, e.g. “Shop backend”."),
    )
    scopes = forms.MultipleChoiceField(
        label=_("Scopes"),
        choices=_scope_choices,
        widget=forms.CheckboxSelectMultiple,
        help_text=_(
            "What the key may do. Read allows GET requests of a group, write allows "
            "creating and changing; give a key only what its integration needs."
        ),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            from prm.models.apikey import ALL_SCOPES

            self.initial.setdefault("scopes", list(ALL_SCOPES))
