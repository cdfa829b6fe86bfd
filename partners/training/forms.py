"""Console forms of training (course, lesson, question) and the partners' quiz form."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from partners.materials.uploads import CleanFile, clean_document
from partners.news.sanitize import clean_html, has_text
from partners.training.models import Course, Lesson, Question
from partners.training.services import KEEP, REMOVE, REPLACE
from partners.training.video import embed_url
from prm.images import CleanImage, clean_image
from programs.models import Program
from rewards.models import PartnerGroup

MAX_TEXT = 50_000
ANSWERS = 6  # answer rows on the question form


class CourseForm(forms.ModelForm):
    program = forms.ModelChoiceField(
        label=_("Program"), queryset=Program.all_tenants_unscoped.none(), required=False
    )
    group = forms.ModelChoiceField(
        label=_("Group"), queryset=PartnerGroup.all_tenants_unscoped.none(), required=False
    )
    required_programs = forms.ModelMultipleChoiceField(
        label=_("Required to join these programs"),
        queryset=Program.all_tenants_unscoped.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Partners must pass this course before they may join them."),
    )

    class Meta:
        model = Course
        fields = [
            "title",
            "description",
            "audience",
            "program",
            "group",
            "pass_mark",
            "required_programs",
            "required_for_payouts",
            "published",
        ]
        widgets = {
            "description": forms.Textarea(attrs={"rows": 4}),
            "audience": forms.RadioSelect,
        }
        help_texts = {
            "pass_mark": _("The share of questions a partner must answer right in each quiz."),
            "published": _("Partners of the audience see the course once it is published."),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        programs = Program.objects.exclude(status=Program.Status.ARCHIVED).order_by("name")
        self.fields["program"].queryset = programs  # type: ignore[attr-defined]
        self.fields["required_programs"].queryset = programs  # type: ignore[attr-defined]
        self.fields["group"].queryset = PartnerGroup.objects.order_by("name")  # type: ignore[attr-defined]

    def clean_description(self) -> str:
        return clean_html(self.cleaned_data.get("description") or "")[:MAX_TEXT]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        audience = data.get("audience")
        if audience == Course.Audience.PROGRAM and not data.get("program"):
            self.add_error("program", _("Choose the program whose partners take this course."))
        if audience == Course.Audience.GROUP and not data.get("group"):
            self.add_error("group", _("Choose the group whose partners take this course."))
        if audience != Course.Audience.PROGRAM:
            data["program"] = None
        if audience != Course.Audience.GROUP:
            data["group"] = None
        return data


class LessonForm(forms.ModelForm):
    video_url = forms.URLField(
        label=_("video"),
        max_length=300,
        required=False,
        assume_scheme="https",
        help_text=_("A YouTube, Vimeo or RuTube link: shown in the lesson."),
    )
    image_upload = forms.FileField(
        label=_("Image"),
        required=False,
        help_text=_("PNG, JPEG, WebP or GIF, up to 2 MB and 2048 px a side. No SVG."),
        widget=forms.FileInput(attrs={"accept": "image/png,image/jpeg,image/webp,image/gif"}),
    )
    remove_image = forms.BooleanField(label=_("Remove the image"), required=False)
    file_upload = forms.FileField(
        label=_("File"),
        required=False,
        help_text=_("A PDF or ZIP partners can download with the lesson."),
    )
    remove_file = forms.BooleanField(label=_("Remove the file"), required=False)

    class Meta:
        model = Lesson
        fields = ["title", "body", "video_url"]
        widgets = {"body": forms.Textarea(attrs={"rows": 12})}
        help_texts = {
            "body": _(
                "Paragraphs, bold, italics, headings, lists and links. Scripts, styles "
                "and embedded images are removed."
            ),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.clean_image_data: CleanImage | None = None
        self.clean_file_data: CleanFile | None = None
        lesson = self.instance
        if not lesson.image_type:
            del self.fields["remove_image"]
        if not lesson.file_name:
            del self.fields["remove_file"]

    def clean_body(self) -> str:
        raw = self.cleaned_data.get("body") or ""
        if len(raw) > MAX_TEXT:
            raise ValidationError(
                _("The text is too long: %(n)d characters at most.") % {"n": MAX_TEXT}
            )
        body = clean_html(raw)
        return body if has_text(body) else ""

    def clean_video_url(self) -> str:
        link = (self.cleaned_data.get("video_url") or "").strip()
        if link and embed_url(link) is None:
            raise ValidationError(
                _("Give a YouTube, Vimeo or RuTube video link (other sites are not embedded).")
            )
        return link

    def clean_image_upload(self) -> Any:
        upload = self.cleaned_data.get("image_upload")
        if upload:
            self.clean_image_data = clean_image(upload, max_bytes=settings.PRM_NEWS_IMAGE_MAX_BYTES)
        return upload

    def clean_file_upload(self) -> Any:
        upload = self.cleaned_data.get("file_upload")
        if upload:
            self.clean_file_data = clean_document(upload)
        return upload

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        has_content = data.get("body") or data.get("video_url") or self.clean_file_data
        keeps_file = self.instance.file_name and not data.get("remove_file")
        if not self.errors and not has_content and not keeps_file:
            raise ValidationError(_("A lesson needs a text, a video or a file."))
        return data

    @property
    def image_action(self) -> str:
        if self.clean_image_data is not None:
            return REPLACE
        return REMOVE if self.cleaned_data.get("remove_image") else KEEP

    @property
    def file_action(self) -> str:
        if self.clean_file_data is not None:
            return REPLACE
        return REMOVE if self.cleaned_data.get("remove_file") else KEEP


class QuestionForm(forms.ModelForm):
    """A question with up to ANSWERS answers (blank rows are ignored)."""

    lesson = forms.ModelChoiceField(
        label=_("In the quiz of"), queryset=Lesson.all_tenants_unscoped.none(), required=False
    )

    class Meta:
        model = Question
        fields = ["lesson", "text", "multiple"]

    def __init__(self, *args: Any, course: Course, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.course = course
        lesson = self.fields["lesson"]
        lesson.queryset = Lesson.objects.filter(course=course)  # type: ignore[attr-defined]
        lesson.empty_label = _("the course's final quiz")  # type: ignore[attr-defined]
        lesson.required = False
        existing = list(self.instance.choices.all()) if self.instance.pk else []
        for n in range(ANSWERS):
            choice = existing[n] if n < len(existing) else None
            self.fields[f"answer_{n}"] = forms.CharField(
                label=_("Answer %(n)d") % {"n": n + 1},
                max_length=300,
                required=False,
                initial=choice.text if choice else "",
            )
            self.fields[f"right_{n}"] = forms.BooleanField(
                label=_("right"), required=False, initial=bool(choice and choice.correct)
            )

    def answer_rows(self) -> list[tuple[Any, Any]]:
        return [(self[f"answer_{n}"], self[f"right_{n}"]) for n in range(ANSWERS)]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        answers = []
        for n in range(ANSWERS):
            text = (data.get(f"answer_{n}") or "").strip()
            if text:
                answers.append((text, bool(data.get(f"right_{n}"))))
            elif data.get(f"right_{n}"):
                self.add_error(f"answer_{n}", _("A right answer needs its text."))
        right = sum(1 for _text, ok in answers if ok)
        if len(answers) < 2:
            raise ValidationError(_("Give at least two answers."))
        if right == 0:
            raise ValidationError(_("Mark the right answer: a question needs one."))
        if right > 1 and not data.get("multiple"):
            raise ValidationError(
                _("Only one answer may be right unless “several answers may be right” is ticked.")
            )
        self.answers = answers
        return data


class QuizForm(forms.Form):
    """A partner's answers: one field per question (radio or checkboxes)."""

    def __init__(self, *args: Any, questions: list[Question], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.questions = questions
        for q in questions:
            choices = [(str(c.pk), c.text) for c in q.choices.all()]
            if q.multiple:
                self.fields[str(q.pk)] = forms.MultipleChoiceField(
                    label=q.text,
                    choices=choices,
                    widget=forms.CheckboxSelectMultiple,
                    required=False,
                )
            else:
                self.fields[str(q.pk)] = forms.ChoiceField(
                    label=q.text, choices=choices, widget=forms.RadioSelect, required=False
                )

    def answers(self) -> dict[str, set[str]]:
        out: dict[str, set[str]] = {}
        for name, value in self.cleaned_data.items():
            if isinstance(value, list):
                out[name] = set(value)
            elif value:
                out[name] = {value}
        return out
