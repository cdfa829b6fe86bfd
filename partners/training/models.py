"""Training for partners: courses of lessons, quizzes per lesson or per course, what
each partner has done and passed, and which programs (and payouts) a course gates.

A lesson with questions is done when its quiz is passed; one without, when the partner
marks it read. A course is passed when every lesson is done and its final quiz (the
questions with no lesson) is passed: a ``CoursePass`` row, the one fact the gates read.
"""

from __future__ import annotations

import uuid

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from prm.tenancy import TenantOwned


class Course(TenantOwned):
    class Audience(models.TextChoices):
        EVERYONE = "everyone", _("Every partner")
        PROGRAM = "program", _("The partners of one program")
        GROUP = "group", _("The partners of one group")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    audience = models.CharField(
        _("audience"), max_length=16, choices=Audience.choices, default=Audience.EVERYONE
    )
    program = models.ForeignKey(
        "programs.Program",
        verbose_name=_("program"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
    )
    group = models.ForeignKey(
        "rewards.PartnerGroup",
        verbose_name=_("group"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
    )
    published = models.BooleanField(_("published"), default=False)
    pass_mark = models.PositiveSmallIntegerField(
        _("pass mark, %"),
        default=80,
        validators=[MinValueValidator(1), MaxValueValidator(100)],
    )
    required_programs = models.ManyToManyField(
        "programs.Program",
        verbose_name=_("required to join these programs"),
        blank=True,
        related_name="required_courses",
    )
    required_for_payouts = models.BooleanField(
        _("required before payouts"),
        default=False,
        help_text=_("Partners of this course's audience must pass it before they are paid."),
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta(TenantOwned.Meta):
        ordering = ["title", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(audience="everyone", program__isnull=True, group__isnull=True)
                | models.Q(audience="program", program__isnull=False, group__isnull=True)
                | models.Q(audience="group", group__isnull=False, program__isnull=True),
                name="training_course_audience_target",
            )
        ]

    def __str__(self) -> str:
        return self.title


class Lesson(TenantOwned):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="lessons")
    position = models.PositiveIntegerField(_("position"), default=1)
    title = models.CharField(_("title"), max_length=200)
    body = models.TextField(_("text"), blank=True)
    video_url = models.URLField(
        _("video"),
        max_length=300,
        blank=True,
        help_text=_("A YouTube, Vimeo or RuTube link: shown in the lesson."),
    )
    # The image (re-encoded by prm.images) and the attached file (a PDF or ZIP checked
    # by content), stored with the lesson and saved in its transaction.
    image = models.BinaryField(null=True, blank=True)
    image_type = models.CharField(max_length=32, blank=True)
    file = models.BinaryField(null=True, blank=True)
    file_name = models.CharField(max_length=80, blank=True)
    file_type = models.CharField(max_length=40, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(TenantOwned.Meta):
        ordering = ["position", "created_at"]
        indexes = [models.Index(fields=["course", "position"], name="training_lesson_order")]

    def __str__(self) -> str:
        return self.title


class Question(TenantOwned):
    """A quiz question: of a lesson's quiz, or (no lesson) of the course's final quiz."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="questions")
    lesson = models.ForeignKey(
        Lesson,
        verbose_name=_("quiz"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="questions",
    )
    position = models.PositiveIntegerField(default=1)
    text = models.CharField(_("question"), max_length=500)
    multiple = models.BooleanField(
        _("several answers may be right"),
        default=False,
        help_text=_("Checkboxes instead of one choice; every right answer must be ticked."),
    )

    class Meta(TenantOwned.Meta):
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.text


class Choice(TenantOwned):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="choices")
    position = models.PositiveSmallIntegerField(default=1)
    text = models.CharField(_("answer"), max_length=300)
    correct = models.BooleanField(_("right"), default=False)

    class Meta(TenantOwned.Meta):
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.text


class LessonDone(TenantOwned):
    id = models.BigAutoField(primary_key=True)
    partner = models.ForeignKey(
        "partners.PartnerProfile", on_delete=models.CASCADE, related_name="+"
    )
    lesson = models.ForeignKey(Lesson, on_delete=models.CASCADE, related_name="done_by")
    done_at = models.DateTimeField(auto_now_add=True)

    class Meta(TenantOwned.Meta):
        constraints = [
            # Led by the lesson: the console's per-lesson counts read it; every
            # partner lookup also names the lesson (or joins through it).
            models.UniqueConstraint(fields=["lesson", "partner"], name="training_lesson_once")
        ]

    def __str__(self) -> str:
        return f"{self.partner_id} did {self.lesson_id}"


class QuizAttempt(TenantOwned):
    id = models.BigAutoField(primary_key=True)
    partner = models.ForeignKey(
        "partners.PartnerProfile", on_delete=models.CASCADE, related_name="+"
    )
    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="attempts")
    lesson = models.ForeignKey(Lesson, on_delete=models.CASCADE, null=True, related_name="+")
    score = models.PositiveSmallIntegerField()  # per cent of questions answered right
    passed = models.BooleanField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(TenantOwned.Meta):
        indexes = [
            models.Index(fields=["partner", "course", "-created_at"], name="training_attempt_last")
        ]

    def __str__(self) -> str:
        return f"{self.partner_id} {self.score}%"


class CoursePass(TenantOwned):
    id = models.BigAutoField(primary_key=True)
    partner = models.ForeignKey(
        "partners.PartnerProfile", on_delete=models.CASCADE, related_name="+"
    )
    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="passes")
    passed_at = models.DateTimeField(auto_now_add=True)

    class Meta(TenantOwned.Meta):
        constraints = [
            models.UniqueConstraint(fields=["partner", "course"], name="training_pass_once")
        ]
        indexes = [models.Index(fields=["course", "-passed_at"], name="training_pass_list")]

    def __str__(self) -> str:
        return f"{self.partner_id} passed {self.course_id}"
