"""Sign-up and applications: the tenant's questions and terms (console settings), the
partner invitation link (public), and the partner's application and profile (cabinet)."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model, login, password_validation
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from partners.access import partner_required
from partners.forms_people import ApplicationForm, ProfileForm, QuestionForm, TermsForm
from partners.invites import partner_invitation_accept
from partners.models import (
    PartnerInvitation,
    PartnerProfile,
    SignupQuestion,
    TermsAcceptance,
)
from partners.people import (
    application_submit,
    current_terms,
    partner_update,
    question_save,
    terms_publish,
)
from prm.access import get_in_tenant_or_404, staff_required
from prm.permissions import Perm
from prm.post_only import post_only
from programs.models import Program

# Console: questions and terms


@staff_required(Perm.SETTINGS_MANAGE)
@require_http_methods(["GET"])
def signup_settings(request: HttpRequest) -> HttpResponse:
    return _settings_page(request)


def _settings_page(
    request: HttpRequest,
    question_form: QuestionForm | None = None,
    terms_form: TermsForm | None = None,
) -> HttpResponse:
    terms = current_terms()
    return render(
        request,
        "console/partners/signup_settings.html",
        {
            "questions": SignupQuestion.objects.all()[:100],
            "question_form": question_form or QuestionForm(),
            "terms": terms,
            "terms_form": terms_form or TermsForm(initial={"text": terms.text if terms else ""}),
            "programs": Program.objects.exclude(status=Program.Status.ARCHIVED)[:100],
            "signup_open": request.tenant.partner_signup_open,  # type: ignore[attr-defined]
        },
    )


@staff_required(Perm.SETTINGS_MANAGE)
@post_only
def signup_question_create(request: HttpRequest) -> HttpResponse:
    form = QuestionForm(request.POST, instance=SignupQuestion())
    if not form.is_valid():
        return _settings_page(request, question_form=form)
    question_save(
        tenant=request.tenant,  # type: ignore[attr-defined]
        actor=request.user,  # type: ignore[arg-type]
        question=form.instance,
        request=request,
    )
    messages.success(request, _("Question saved."))
    return redirect("console:signup_settings")


@staff_required(Perm.SETTINGS_MANAGE)
@require_http_methods(["GET", "POST"])
def signup_question_edit(request: HttpRequest, question_id: str) -> HttpResponse:
    question = get_in_tenant_or_404(SignupQuestion, pk=question_id)
    form = QuestionForm(request.POST or None, instance=question)
    if request.method == "POST" and form.is_valid():
        question_save(
            tenant=request.tenant,  # type: ignore[attr-defined]
            actor=request.user,  # type: ignore[arg-type]
            question=form.instance,
            request=request,
        )
        messages.success(request, _("Question saved."))
        return redirect("console:signup_settings")
    return render(
        request, "console/partners/question_form.html", {"form": form, "question": question}
    )


@staff_required(Perm.SETTINGS_MANAGE)
@post_only
def signup_terms(request: HttpRequest) -> HttpResponse:
    form = TermsForm(request.POST)
    if not form.is_valid():
        return _settings_page(request, terms_form=form)
    terms = current_terms()
    if terms is not None and terms.text == form.cleaned_data["text"]:
        messages.info(request, _("The terms did not change."))
        return redirect("console:signup_settings")
    terms = terms_publish(
        tenant=request.tenant,  # type: ignore[attr-defined]
        actor=request.user,  # type: ignore[arg-type]
        text=form.cleaned_data["text"],
        request=request,
    )
    messages.success(request, _("Terms version %d published.") % terms.version)
    return redirect("console:signup_settings")


# Public: the invitation link


class InvitationSignupForm(forms.Form):
    """Someone without a password here: their name and a password."""

    display_name = forms.CharField(label=gettext_lazy("Your name"), max_length=120, required=False)
    password1 = forms.CharField(label=gettext_lazy("Password"), widget=forms.PasswordInput)
    password2 = forms.CharField(label=gettext_lazy("Password (again)"), widget=forms.PasswordInput)

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        p1, p2 = data.get("password1"), data.get("password2")
        if p1 and p2 and p1 != p2:
            self.add_error("password2", _("The two passwords differ."))
        elif p1:
            try:
                password_validation.validate_password(str(p1))
            except ValidationError as exc:
                self.add_error("password1", exc)
        return data


def _verified_user(email: str, password: str, display_name: str):  # type: ignore[no-untyped-def]
    """The user for ``email`` with this password and a verified address: the link in the
    e-mail proves they read that mailbox."""
    from allauth.account.models import EmailAddress

    users = get_user_model().objects
    user = users.filter(email__iexact=email).first()
    if user is None:
        user = users.create_user(email=email, password=password)
    else:
        user.set_password(password)
    if display_name and not user.first_name:
        user.first_name = display_name[:150]
    user.save()
    EmailAddress.objects.update_or_create(
        user=user, email__iexact=email, defaults={"email": email, "verified": True, "primary": True}
    )
    return user


@require_http_methods(["GET", "POST"])
def invitation(request: HttpRequest, token: str) -> HttpResponse:
    invitation = get_in_tenant_or_404(
        PartnerInvitation.objects.select_related("program"), token=token
    )
    if invitation.status != PartnerInvitation.Status.PENDING:
        return render(request, "cabinet/invitation_invalid.html", status=410)
    if invitation.is_expired:
        return render(request, "cabinet/invitation_invalid.html", {"expired": True}, status=410)
    context: dict[str, object] = {"invitation": invitation}
    tenant = request.tenant  # type: ignore[attr-defined]
    if request.user.is_authenticated:
        if request.user.email.lower() != invitation.email.lower():  # type: ignore[union-attr]
            return render(request, "cabinet/invitation_wrong_account.html", context, status=403)
        if request.method == "POST":
            return _accept(request, invitation, request.user)
        return render(request, "cabinet/invitation.html", context)
    user = get_user_model().objects.filter(email__iexact=invitation.email).first()
    if user is not None and user.has_usable_password():
        context["sign_in"] = True
        return render(request, "cabinet/invitation.html", context)
    form = InvitationSignupForm(request.POST if request.method == "POST" else None)
    if form.is_bound and form.is_valid():
        with transaction.atomic():
            user = _verified_user(
                invitation.email, form.cleaned_data["password1"], form.cleaned_data["display_name"]
            )
        login(request, user, backend=settings.AUTHENTICATION_BACKENDS[0])
        return _accept(request, invitation, user)
    context.update(form=form, tenant=tenant)
    return render(request, "cabinet/invitation.html", context)


def _accept(request: HttpRequest, invitation: PartnerInvitation, user) -> HttpResponse:  # type: ignore[no-untyped-def]
    try:
        partner_invitation_accept(
            tenant=request.tenant,  # type: ignore[attr-defined]
            invitation=invitation,
            user=user,
            request=request,
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return render(request, "cabinet/invitation_invalid.html", status=410)
    messages.success(request, _("Welcome to the partner program of %s!") % request.tenant.name)  # type: ignore[attr-defined]
    return redirect("partners:home")


# Cabinet: the application and the profile


def application_pending(partner: PartnerProfile) -> bool:
    """Whether the partner still has questions to answer or terms to accept."""
    terms = current_terms()
    if (
        terms is not None
        and not TermsAcceptance.objects.filter(partner=partner, terms=terms).exists()
    ):
        return True
    details = partner.details or {}
    return any(
        str(q.pk) not in details
        for q in SignupQuestion.objects.filter(is_active=True, on_application=True, required=True)
    )


@partner_required
@require_http_methods(["GET", "POST"])
def application(request: HttpRequest) -> HttpResponse:
    """The partner's application: its status (and a rejection's reason), the tenant's
    questions and the terms to accept."""
    partner: PartnerProfile = request.partner  # type: ignore[attr-defined]
    terms = current_terms()
    accepted = (
        terms is not None and TermsAcceptance.objects.filter(partner=partner, terms=terms).exists()
    )
    questions = list(SignupQuestion.objects.filter(is_active=True, on_application=True))
    editable = partner.status == PartnerProfile.Status.PENDING and not partner.is_erased
    form = None
    if editable or (terms is not None and not accepted):
        form = ApplicationForm(
            request.POST if request.method == "POST" else None,
            questions=questions if editable else [],
            terms_required=terms is not None and not accepted,
            initial_answers=partner.details or {},
        )
        if form.is_bound and form.is_valid():
            application_submit(
                tenant=request.tenant,  # type: ignore[attr-defined]
                partner=partner,
                answers=form.answers(),
                terms=terms if "accept_terms" in form.fields else None,
                request=request,
            )
            messages.success(request, _("Your application is saved."))
            return redirect("partners:application")
    elif request.method == "POST":
        return redirect("partners:application")
    return render(
        request,
        "cabinet/application.html",
        {"partner": partner, "form": form, "terms": terms, "accepted": accepted},
    )


@partner_required
@require_http_methods(["GET", "POST"])
def profile(request: HttpRequest) -> HttpResponse:
    partner: PartnerProfile = request.partner  # type: ignore[attr-defined]
    if partner.is_erased:
        return redirect("partners:home")
    questions = list(SignupQuestion.objects.filter(is_active=True, in_profile=True))
    form = ProfileForm(
        request.POST if request.method == "POST" else None, partner=partner, questions=questions
    )
    if form.is_bound and form.is_valid():
        partner_update(
            tenant=request.tenant,  # type: ignore[attr-defined]
            actor=request.user,  # type: ignore[arg-type]
            partner=partner,
            changes=form.changes(),
            request=request,
        )
        messages.success(request, _("Your profile is saved."))
        return redirect("partners:profile")
    return render(request, "cabinet/profile.html", {"partner": partner, "form": form})
