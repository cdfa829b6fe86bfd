"""Partners as a table: the console list's export and the partner import."""

from __future__ import annotations

from typing import Any, ClassVar

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.translation import gettext as _
from import_export.fields import Field

from partners.models import PartnerProfile
from partners.services import partner_set_status
from prm.dataio.resources import TenantResource
from prm.dataio.widgets import ChoiceWidget, IsoDateTimeWidget, PlainWidget, TenantRowWidget
from prm.jobs import job_enqueue
from prm.models import User
from prm.tenancy import require_tenant
from programs.models import Enrollment, Program
from programs.services.enrollments import enrollment_create

EMAIL_REQUIRED = _("An e-mail address is required.")
PROGRAM_WIDGET = TenantRowWidget(Program, "name", _("program"))


class PartnerResource(TenantResource):
    """Columns: id, email, name, company, status, group, recruited_by, risk_score, joined.

    Import reads email (the key: an existing partner with that address is updated),
    name, company and status, and two import-only columns: ``program`` (a program's
    name or id: the partner is enrolled there, by staff, if not yet) and ``code`` (the
    referral code of that enrollment; blank: one is made up). A new address becomes a
    new partner (and a user, if the platform does not know the address yet; an
    existing user's own name is never changed by a workspace's file).
    """

    id = Field(attribute="id", column_name="id", readonly=True, widget=PlainWidget())
    email = Field(attribute="user__email", column_name="email", readonly=True, widget=PlainWidget())
    name = Field(attribute="display_name", column_name="name", widget=PlainWidget())
    company = Field(attribute="company", column_name="company", widget=PlainWidget())
    status = Field(
        attribute="status", column_name="status", widget=ChoiceWidget(PartnerProfile.Status)
    )
    group = Field(attribute="group__name", column_name="group", readonly=True, widget=PlainWidget())
    recruited_by = Field(
        attribute="recruited_by__user__email",
        column_name="recruited_by",
        readonly=True,
        widget=PlainWidget(),
    )
    risk_score = Field(
        attribute="risk_score", column_name="risk_score", readonly=True, widget=PlainWidget()
    )
    joined = Field(
        attribute="created_at", column_name="joined", readonly=True, widget=IsoDateTimeWidget()
    )

    required_columns: ClassVar[tuple[str, ...]] = ("email",)
    import_only_columns: ClassVar[tuple[str, ...]] = ("program", "code")
    key_columns: ClassVar[tuple[str, ...]] = ("email",)

    class Meta:
        model = PartnerProfile
        fields = (
            "id",
            "email",
            "name",
            "company",
            "status",
            "group",
            "recruited_by",
            "risk_score",
            "joined",
        )
        export_order = fields
        skip_unchanged = True
        report_skipped = True
        skip_html_diff = True

    def __init__(self, *, actor: User | None = None, invite: bool = False) -> None:
        super().__init__()
        self.actor = actor
        self.invite = invite

    @staticmethod
    def _email(row: dict[str, Any]) -> str:
        return str(row.get("email") or "").strip().lower()

    def get_instance(self, instance_loader: Any, row: dict[str, Any]) -> PartnerProfile | None:
        email = self._email(row)
        if not email:
            return None
        return PartnerProfile.objects.select_related("user").filter(user__email=email).first()

    def init_instance(self, row: Any = None) -> PartnerProfile:
        return PartnerProfile(tenant=require_tenant(), status=PartnerProfile.Status.ACTIVE)

    def import_instance(self, instance: PartnerProfile, row: dict[str, Any], **kwargs: Any) -> None:
        email = self._email(row)
        errors: dict[str, Any] = {}
        if not email:
            errors["email"] = ValidationError(EMAIL_REQUIRED)
        else:
            try:
                validate_email(email)
            except ValidationError as exc:
                errors["email"] = exc
        keep_status = instance.status
        instance._import_status_before = keep_status  # type: ignore[attr-defined]
        try:
            super().import_instance(instance, row, **kwargs)
        except ValidationError as exc:
            errors.update(exc.error_dict)
        if not instance.status:  # a blank cell keeps the status (new ones: active)
            instance.status = keep_status
        program = None
        try:
            program = PROGRAM_WIDGET.clean(row.get("program"), lookup_cache=self.lookup_cache)
        except ValueError as exc:
            errors["program"] = ValidationError(str(exc))
        instance._import_program = program  # type: ignore[attr-defined]
        instance._import_code = str(row.get("code") or "").strip()  # type: ignore[attr-defined]
        if errors:
            raise ValidationError(errors)
        instance._import_email = email  # type: ignore[attr-defined]

    def skip_row(
        self,
        instance: PartnerProfile,
        original: Any,
        row: Any,
        import_validation_errors: Any = None,
    ) -> bool:
        program = getattr(instance, "_import_program", None)
        if program is not None and not (
            instance.pk
            and not instance._state.adding
            and Enrollment.objects.filter(program=program, partner=instance).exists()
        ):
            return False  # a new enrollment is a change
        return super().skip_row(instance, original, row, import_validation_errors)

    def do_instance_save(self, instance: PartnerProfile, is_create: bool) -> None:
        if is_create:
            email = instance._import_email  # type: ignore[attr-defined]
            user = User.objects.filter(email=email).first()
            if user is None:
                user = User.objects.create_user(email=email)  # no password: set via invite
            instance.user = user
            if not instance.display_name:
                instance.display_name = user.get_full_name()
            instance.save()
            from prm.webhooks.events import emit as webhook_emit

            webhook_emit(require_tenant(), "partner.created", [instance])
        else:
            # A status change goes through the service: it is audited and the tracking
            # path's cached partner status is dropped.
            status = instance.status
            instance.status = instance._import_status_before  # type: ignore[attr-defined]
            instance.save(update_fields=["display_name", "company"])
            if status != instance.status and self.actor is not None:
                instance.status = partner_set_status(
                    tenant=require_tenant(), actor=self.actor, partner=instance, status=status
                ).status
        program = getattr(instance, "_import_program", None)
        if program is not None:
            enrollment_create(
                tenant=require_tenant(),
                program=program,
                partner=instance,
                code=getattr(instance, "_import_code", ""),
                by_staff=True,
                actor=self.actor,
            )

    def after_save_instance(self, instance: PartnerProfile, row: Any, **kwargs: Any) -> None:
        created = getattr(instance, "_import_created", False)
        if self.invite and created and not kwargs.get("dry_run"):
            job_enqueue(
                "prm.dataio.invitations.send_partner_invitation",
                tenant=require_tenant(),
                partner_id=str(instance.pk),
            )

    def before_save_instance(self, instance: PartnerProfile, row: Any, **kwargs: Any) -> None:
        instance._import_created = instance._state.adding  # type: ignore[attr-defined]
