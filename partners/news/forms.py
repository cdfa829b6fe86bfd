"""The console's news post form: the text is sanitised, the image checked by content."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from partners.news.models import Post, PostImage
from partners.news.sanitize import clean_html, has_text
from partners.news.services import KEEP, REMOVE, REPLACE
from prm.images import CleanImage, clean_image
from programs.models import Program
from rewards.models import PartnerGroup

NOW, LATER = "now", "later"
MAX_BODY = 50_000


class PostForm(forms.ModelForm):
    when = forms.ChoiceField(
        label=_("Publish"),
        choices=[(NOW, _("Now")), (LATER, _("At a set time"))],
        initial=NOW,
        widget=forms.RadioSelect,
    )
    publish_at = forms.DateTimeField(
        label=_("Publish at (UTC)"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    program = forms.ModelChoiceField(
        label=_("Program"), queryset=Program.all_tenants_unscoped.none(), required=False
    )
    group = forms.ModelChoiceField(
        label=_("Group"), queryset=PartnerGroup.all_tenants_unscoped.none(), required=False
    )
    image = forms.FileField(
        label=_("Image"),
        required=False,
        help_text=format_lazy(
            _("PNG, JPEG, WebP or GIF, up to {size} and 2048 px a side. No SVG."),
            size=filesizeformat(settings.PRM_NEWS_IMAGE_MAX_BYTES),
        ),
        widget=forms.FileInput(attrs={"accept": "image/png,image/jpeg,image/webp,image/gif"}),
    )
    remove_image = forms.BooleanField(label=_("Remove the image"), required=False)

    class Meta:
        model = Post
        fields = ["title", "body", "audience", "program", "group", "send_email"]
        widgets = {
            "body": forms.Textarea(
                attrs={
                    "rows": 12,
                    "class": "js-news-editor",
                    # The toolbar's button names (static/js/news_editor.js), in order.
                    "data-labels": format_lazy(
                        "{}|{}|{}|{}|{}|{}|{}|{}",
                        _("Bold"),
                        _("Italics"),
                        _("Heading"),
                        _("Paragraph"),
                        _("List"),
                        _("Numbered list"),
                        _("Quote"),
                        _("Link"),
                    ),
                    "data-link-prompt": _("The link's address (https://…)"),
                }
            ),
            "audience": forms.RadioSelect,
        }
        help_texts = {
            "body": _(
                "Paragraphs, bold, italics, headings, lists and links (http, https, mailto). "
                "Anything else (scripts, styles, embedded images) is removed."
            ),
            "send_email": _(
                "When the post is published, each partner of the audience gets it by e-mail "
                "once (unless they turned news e-mails off)."
            ),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["program"].queryset = Program.objects.exclude(  # type: ignore[attr-defined]
            status=Program.Status.ARCHIVED
        ).order_by("name")
        self.fields["group"].queryset = PartnerGroup.objects.order_by("name")  # type: ignore[attr-defined]
        self.clean_image_data: CleanImage | None = None
        post = self.instance
        if post.published_at is not None:
            # Published: its date stays (the form no longer schedules it).
            del self.fields["when"]
            del self.fields["publish_at"]
        elif not post._state.adding:
            self.initial.setdefault("when", LATER)
            self.initial.setdefault("publish_at", timezone.localtime(post.publish_at))
        self.has_image = not post._state.adding and PostImage.objects.filter(post=post).exists()
        if not self.has_image:
            del self.fields["remove_image"]

    def clean_body(self) -> str:
        raw = self.cleaned_data.get("body") or ""
        if len(raw) > MAX_BODY:
            raise forms.ValidationError(
                _("The text is too long: %(n)d characters at most.") % {"n": MAX_BODY}
            )
        body = clean_html(raw)
        if not has_text(body):
            raise forms.ValidationError(_("Write the post's text."))
        return body

    def clean_image(self) -> Any:
        upload = self.cleaned_data.get("image")
        if upload:
            self.clean_image_data = clean_image(upload, max_bytes=settings.PRM_NEWS_IMAGE_MAX_BYTES)
        return upload

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        audience = data.get("audience")
        if audience == Post.Audience.PROGRAM and not data.get("program"):
            self.add_error("program", _("Choose the program whose partners read this post."))
        if audience == Post.Audience.GROUP and not data.get("group"):
            self.add_error("group", _("Choose the group whose partners read this post."))
        if audience != Post.Audience.PROGRAM:
            data["program"] = None
        if audience != Post.Audience.GROUP:
            data["group"] = None
        if "when" in self.fields:
            if data.get("when") == LATER:
                at = data.get("publish_at")
                if at is None:
                    self.add_error("publish_at", _("Give the date and time to publish at."))
                elif at <= timezone.now():
                    self.add_error("publish_at", _("Choose a time in the future, or publish now."))
            else:
                data["publish_at"] = timezone.now()
        return data

    def _post_clean(self) -> None:
        data = self.cleaned_data
        if "publish_at" in self.fields and data.get("publish_at"):
            self.instance.publish_at = data["publish_at"]
        super()._post_clean()

    @property
    def image_action(self) -> str:
        if self.clean_image_data is not None:
            return REPLACE
        if self.cleaned_data.get("remove_image"):
            return REMOVE
        return KEEP
