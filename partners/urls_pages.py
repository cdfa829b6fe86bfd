"""URLs of the partner pages: the console's (partner page, groups, tags, segments,
sign-up settings) and the cabinet's (application, profile, invitation link)."""

from __future__ import annotations

from django.urls import path

from partners import views_groups as groups
from partners import views_partner as people
from partners import views_segments as segments
from partners import views_signup as signup

console_patterns = [
    path("partners/new/", people.partner_new, name="partner_new"),
    path("partners/invite/", people.partner_invite_page, name="partner_invite"),
    path("partners/bulk/", segments.partners_bulk, name="partners_bulk"),
    path(
        "partners/invitations/<uuid:partner_invitation_id>/resend/",
        people.partner_invitation_resend_view,
        name="partner_invitation_resend",
    ),
    path(
        "partners/invitations/<uuid:partner_invitation_id>/revoke/",
        people.partner_invitation_revoke_view,
        name="partner_invitation_revoke",
    ),
    path("partners/<uuid:partner_id>/", people.partner_detail, name="partner_detail"),
    path("partners/<uuid:partner_id>/edit/", people.partner_edit, name="partner_edit"),
    path(
        "partners/<uuid:partner_id>/change-status/",
        people.partner_change_status,
        name="partner_change_status",
    ),
    path("partners/<uuid:partner_id>/notes/", people.partner_note, name="partner_note"),
    path("partners/<uuid:partner_id>/tags/", people.partner_tag, name="partner_tag"),
    path("partners/<uuid:partner_id>/group/", people.partner_group, name="partner_group"),
    path("groups/", groups.group_list, name="groups"),
    path("groups/new/", groups.group_create, name="group_create"),
    path("groups/<uuid:group_id>/", groups.group_detail, name="group_detail"),
    path("groups/<uuid:group_id>/edit/", groups.group_edit, name="group_edit"),
    path("tags/", groups.tag_list, name="tags"),
    path("tags/new/", groups.tag_create, name="tag_create"),
    path("tags/<uuid:tag_id>/", groups.tag_edit, name="tag_edit"),
    path("segments/", segments.segment_list, name="segments"),
    path("segments/new/", segments.segment_create, name="segment_create"),
    path("segments/<uuid:segment_id>/", segments.segment_edit, name="segment_edit"),
    path("segments/<uuid:segment_id>/run/", segments.segment_run, name="segment_run"),
    path("settings/signup/", signup.signup_settings, name="signup_settings"),
    path(
        "settings/signup/questions/new/",
        signup.signup_question_create,
        name="signup_question_create",
    ),
    path(
        "settings/signup/questions/<uuid:question_id>/",
        signup.signup_question_edit,
        name="signup_question_edit",
    ),
    path("settings/signup/terms/", signup.signup_terms, name="signup_terms"),
]

cabinet_patterns = [
    path("application/", signup.application, name="application"),
    path("account/profile/", signup.profile, name="profile"),
    path("join/invite/<str:token>/", signup.invitation, name="invitation"),
]
