"""Load the demo workspace (idempotent): tenant acme, its owner and a partner."""

from __future__ import annotations

from typing import Any

from allauth.account.models import EmailAddress
from django.core.management.base import BaseCommand
from django.db import transaction

from partners.models import PartnerProfile
from prm import public_urls
from prm.models import Membership, Role, Tenant, User
from prm.tenancy import tenant_scope

DEMO_PASSWORD = "prm-demo-2026"  # noqa: S105 - published demo credentials (README)
DEMO_STAFF = [
    ("owner@acme.test", "Olga", "Owner", Role.OWNER),
    ("admin@acme.test", "Adam", "Admin", Role.ADMIN),
    ("manager@acme.test", "Maria", "Manager", Role.MANAGER),
    ("finance@acme.test", "Fedor", "Finance", Role.FINANCE),
    ("analyst@acme.test", "Anna", "Analyst", Role.ANALYST),
]
DEMO_PARTNERS = [
    ("partner@acme.test", "Alice", "Partner", "", PartnerProfile.Status.ACTIVE),
    ("bob@partners.test", "Bob", "Blogger", "Bob's Reviews", PartnerProfile.Status.ACTIVE),
    ("carol@partners.test", "Carol", "Agency", "Carol & Co", PartnerProfile.Status.PENDING),
]
OPERATOR = "ops@prm.test"


def demo_user(email: str, first: str = "", last: str = "", **extra: Any) -> User:
    user, created = User.objects.get_or_create(
        email=email, defaults={"first_name": first, "last_name": last, **extra}
    )
    if created:
        user.set_password(DEMO_PASSWORD)
        user.save(update_fields=["password"])
    EmailAddress.objects.get_or_create(
        user=user, email=email, defaults={"primary": True, "verified": True}
    )
    return user


class Command(BaseCommand):
    help = "Create or refresh the demo workspace 'acme' with staff and partners."

    @transaction.atomic
    def handle(self, *args: Any, **options: Any) -> None:
        tenant, _ = Tenant.objects.get_or_create(
            slug="acme", defaults={"name": "Acme Software", "default_currency": "USD"}
        )
        with tenant_scope(tenant):
            for email, first, last, role in DEMO_STAFF:
                user = demo_user(email, first, last)
                Membership.objects.get_or_create(tenant=tenant, user=user, defaults={"role": role})
            for email, first, last, company, status in DEMO_PARTNERS:
                user = demo_user(email, first, last)
                PartnerProfile.objects.get_or_create(
                    tenant=tenant,
                    user=user,
                    defaults={
                        "status": status,
                        "display_name": f"{first} {last}",
                        "company": company,
                    },
                )
            from programs import demo as tracking_demo

            program = tracking_demo.load(tenant)
            from partners.news import demo as news_demo

            news_demo.load(tenant)
            from partners.materials import demo as materials_demo

            owner = Membership.objects.filter(role="owner").select_related("user").first()
            materials_demo.load(tenant, program, owner.user if owner else None)
            from partners.training import demo as training_demo

            training_demo.load(tenant)
        demo_user(OPERATOR, "Platform", "Operator", is_staff=True, is_superuser=True)

        platform = public_urls.platform_url()
        self.stdout.write(
            self.style.SUCCESS("Demo ready.")
            + f"""
  Partner cabinet   {tenant.base_url}/
  Admin console     {tenant.base_url}/manage/
  Platform home     {platform}/   (create a new workspace)
  Operators' admin  {platform}/ops/admin/
  Logins (password {DEMO_PASSWORD}):
    owner@acme.test      owner of acme (also admin@, manager@, finance@, analyst@acme.test)
    partner@acme.test    partner of acme
    ops@prm.test         platform operator (superuser)
  Demo shop         {tracking_demo.shop_base_url()}?ref=ALICE
                    (arrive as a referred visitor, sign up and buy)
"""
        )
