"""Factories for deep graphs. Tenant-owned rows are created through the unscoped
manager because tests build several tenants side by side."""

from __future__ import annotations

import factory
from allauth.account.models import EmailAddress

from partners.models import PartnerProfile
from prm.models import Invitation, Membership, Role, Tenant, User

PASSWORD = "correct-horse-battery-9"


class TenantOwnedFactory(factory.django.DjangoModelFactory):
    class Meta:
        abstract = True

    @classmethod
    def _get_manager(cls, model_class):  # type: ignore[no-untyped-def]
        return model_class.all_tenants_unscoped


class TenantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tenant

    name = factory.Sequence(lambda n: f"Company {n}")
    slug = factory.Sequence(lambda n: f"company{n}")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.test")
    first_name = "Pat"

    @factory.post_generation
    def password(self, create, extracted, **kwargs):  # type: ignore[no-untyped-def]
        self.set_password(extracted or PASSWORD)
        if create:
            self.save(update_fields=["password"])
            EmailAddress.objects.get_or_create(
                user=self, email=self.email, defaults={"primary": True, "verified": True}
            )


class MembershipFactory(TenantOwnedFactory):
    class Meta:
        model = Membership

    tenant = factory.SubFactory(TenantFactory)
    user = factory.SubFactory(UserFactory)
    role = Role.OWNER


class PartnerFactory(TenantOwnedFactory):
    class Meta:
        model = PartnerProfile

    tenant = factory.SubFactory(TenantFactory)
    user = factory.SubFactory(UserFactory)
    status = PartnerProfile.Status.ACTIVE
    display_name = factory.Sequence(lambda n: f"Partner {n}")


class InvitationFactory(TenantOwnedFactory):
    class Meta:
        model = Invitation

    tenant = factory.SubFactory(TenantFactory)
    email = factory.Sequence(lambda n: f"invitee{n}@example.test")
    role = Role.MANAGER
