"""Studies: the protocol staff set, the panels rendered at publish, and the publish check."""

import secrets
import string
from typing import NamedTuple

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify

from quiz.models.datasets import Image
from quiz.models.jobs import Job
from quiz.models.tokens import random_png_name

PANEL_LETTERS = string.ascii_uppercase


class Layout(models.TextChoices):
    GRID = "grid", "Grid of panels A–J"
    SINGLE = "single", "One image at a time"
    # Two-alternative forced choice: each trial is one real and one synthetic panel side by side,
    # and the participant picks the real one (docs/study-design.md, "Two-alternative forced
    # choice"). A round of n panels holds n / 2 pairs.
    PAIR = "pair", "Two side by side: which is real? (2AFC)"

    @property
    def panels_per_trial(self) -> int:
        return 2 if self == Layout.PAIR else 1


class Reveal(NamedTuple):
    """What a page shows about the trials it follows: their number correct, their truths."""

    score: bool
    key: bool


class Feedback(models.TextChoices):
    """What participants learn about their answers, and when (docs/study-design.md).

    Every participant is served the same bytes for the same image, so whatever a page reveals
    about a set of trials is an equation in the truths of those images: pooled over sessions,
    scores and keys become an oracle (quiz.integrity.oracle_check measures how fast). Only the
    policies that reveal nothing while the study runs measure perception and nothing else.
    """

    SCORE_AT_CLOSE = "score_at_close", "Score when the study closes (no oracle)"
    NONE = "none", "No feedback (no oracle)"
    SCORE_ONLY = "score", "Score after each round (pooled scores reveal the truths)"
    KEY_AT_END = "key_at_end", "Answer key at the end (truths public after one session)"
    KEY_EACH_ROUND = "key", "Answer key after each round (truths public after one session)"

    @property
    def after_round(self) -> Reveal:
        """What the result page after each round shows."""
        return Reveal(
            score=self in {Feedback.KEY_EACH_ROUND, Feedback.SCORE_ONLY},
            key=self == Feedback.KEY_EACH_ROUND,
        )

    @property
    def at_end(self) -> Reveal:
        """What the summary page at the end of a session shows while the study runs."""
        return Reveal(
            score=self in {Feedback.KEY_EACH_ROUND, Feedback.SCORE_ONLY, Feedback.KEY_AT_END},
            key=self.reveals_truth,
        )

    @property
    def reveals_truth(self) -> bool:
        """The truth of each image reaches the participant (after the round, or at the end)."""
        return self in {Feedback.KEY_EACH_ROUND, Feedback.KEY_AT_END}

    @property
    def is_oracle_free(self) -> bool:
        """Nothing about a trial's truth is shown while the study collects data."""
        return not (self.after_round.score or self.at_end.score)


class CountedSessions(models.TextChoices):
    """Which sessions the figures count (quiz.models.SessionState; docs/study-design.md)."""

    FINISHED = "finished", "Finished sessions only"
    FINISHED_AND_PARTIAL = "finished_and_partial", "Finished and partial sessions"

    @property
    def states(self) -> tuple[str, ...]:
        if self == CountedSessions.FINISHED:
            return ("finished",)
        return ("finished", "partial")


# Confidence ratings (Study.rating_points): even scales only. A forced choice has no neutral
# point, and an even k splits into k/2 "real" and k/2 "synthetic" points, so the Real/Synthetic
# answer derived from a rating (quiz.studies.submission.rating_answer) never rests on a
# tie-break (docs/study-design.md, "Confidence ratings").
RATING_POINTS = (2, 4, 6, 8, 10)
DEFAULT_RATING_POINTS = 6


# "Indistinguishable from chance" means accuracy within 50 % ± this (TOST), unless a study says.
DEFAULT_EQUIVALENCE_MARGIN = 0.05

DEFAULT_CONSENT = (
    "This is a research study on how well people tell real ultrasound images from images made "
    "by a neural network. Taking part is voluntary and you may stop at any time. We record your "
    "answers, your response times and the answers to the questions below; nothing that "
    "identifies you. Results are reported in aggregate."
)


class Study(models.Model):
    name = models.CharField(max_length=200)
    slug = models.SlugField(unique=True)
    description = models.TextField(blank=True)
    images = models.ManyToManyField(Image, related_name="studies", blank=True)
    layout = models.CharField(max_length=16, choices=Layout.choices, default=Layout.GRID)
    panels_per_round = models.PositiveSmallIntegerField(
        default=10, validators=[MinValueValidator(1), MaxValueValidator(len(PANEL_LETTERS))]
    )
    rounds_per_session = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text="Blank: as many rounds as the images allow without showing any image twice.",
    )
    # Every panel is rendered once, at publish, to this square size, real and synthetic alike.
    # Derived, never typed: the smallest native panel side among all of the study's images
    # (quiz.studies.panels.refresh_panel_size), so that no image is enlarged.
    panel_size = models.PositiveIntegerField(
        default=256,
        validators=[MinValueValidator(16), MaxValueValidator(1024)],
        help_text="Derived from the study's images: the smallest native side among them.",
    )
    exposure_ms = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(100), MaxValueValidator(60_000)],
        help_text="Hide each image this many milliseconds after it appears. Blank: untimed.",
    )
    rating_points = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        choices=[
            (k, f"{k}-point scale{' (recommended)' if k == DEFAULT_RATING_POINTS else ''}")
            for k in RATING_POINTS
        ],
        help_text="Blank: each panel is answered Real or Synthetic. A scale: each panel is rated "
        "from 1 (certainly real) to k (certainly synthetic), the Real/Synthetic answer is derived "
        "from it (1 … k/2 real) and the report adds ROC curves and the reader-averaged AUC. Even "
        f"scales only, so that no point is neutral; {DEFAULT_RATING_POINTS} is the usual choice. "
        "Not offered side by side (the pair layout), whose one answer per pair is a choice.",
    )
    adaptive_exposure = models.BooleanField(
        default=False,
        help_text="HYPE-time (Zhou et al. 2019): each participant's exposure adapts by a "
        "3-down/1-up staircase between 100 and 1000 ms, one staircase per generator, "
        "interleaved; the report gives each generator's HYPE-time. Needs one trial per round "
        "(1 panel, or 2 in the side-by-side layout); the fixed exposure above is then unused. "
        "The next exposure tells the participant whether they were right: the oracle check "
        "counts it as an answer key (docs/study-design.md).",
    )
    feedback = models.CharField(
        max_length=16,
        choices=Feedback.choices,
        default=Feedback.SCORE_AT_CLOSE,
        help_text="Every participant sees the same image as the same bytes, so a score or key "
        "shown while the study runs can be pooled across sessions into the truth of every "
        "image. “Score when the study closes” and “no feedback” cannot; the publish audit's "
        "oracle check measures how fast the others break (docs/quiz-integrity.md).",
    )
    expected_participants = models.PositiveIntegerField(
        default=100,
        validators=[MinValueValidator(1), MaxValueValidator(100_000)],
        help_text="How many participants you plan to recruit: the oracle check at publish "
        "plays this many sessions under the feedback policy.",
    )
    oracle_risk_acknowledgement = models.TextField(
        blank=True,
        help_text="Publishing refuses a feedback policy that the oracle check breaks within the "
        "expected participants, unless you state here why the risk is acceptable for this "
        "study; the statement is printed in the report's methods.",
    )
    mixed_modes_acknowledgement = models.TextField(
        blank=True,
        help_text="Publishing refuses a study that mixes grey and colour images: the mode shows "
        "in the pixels, and where it follows the class it alone tells real from synthetic. "
        "State here why the mix is acceptable for this study; the statement is printed in the "
        "report's methods.",
    )
    practice_images = models.ManyToManyField(
        Image,
        related_name="practice_in",
        blank=True,
        help_text="Shown once, first, with the answer key; never counted and never reused.",
    )
    catch_images = models.ManyToManyField(
        Image,
        related_name="catch_in",
        blank=True,
        help_text="Obviously synthetic images (e.g. an early checkpoint's), each shown once "
        "among the trials to check attention.",
    )
    catch_max_real = models.PositiveSmallIntegerField(
        default=1,
        help_text="Exclusion rule, fixed before publishing: a participant who calls more than "
        "this many catch images real is excluded from the results.",
    )
    counted_sessions = models.CharField(
        max_length=24,
        choices=CountedSessions.choices,
        default=CountedSessions.FINISHED,
        help_text="Rule fixed before publishing: which sessions the figures count. A session "
        "left part-way is not a sample of the same design (fewer trials, and those who leave "
        "may be those who find it hard), so finished sessions only is the default; the report "
        "gives the figures with every session beside them.",
    )
    consent_text = models.TextField(default=DEFAULT_CONSENT)
    completion_url = models.URLField(
        blank=True, help_text="Shown at the end, e.g. a recruitment platform's completion link."
    )
    completion_code = models.CharField(max_length=64, blank=True)
    is_published = models.BooleanField(default=False)
    # Data collection has ended: no session starts and no round is recorded any more, and scores
    # held back until now ("score when the study closes") are shown.
    closed_at = models.DateTimeField(null=True, blank=True)
    results_public = models.BooleanField(
        default=False,
        help_text="Anyone with the link may read the statistics, their JSON and the per-trial "
        "CSV (which holds the truth of every image) once the study is published. Otherwise, "
        "and always before publishing, they are for staff only.",
    )
    equivalence_margin = models.FloatField(
        default=DEFAULT_EQUIVALENCE_MARGIN,
        validators=[MinValueValidator(0.01), MaxValueValidator(0.25)],
        help_text="“Indistinguishable from chance” needs evidence: accuracy is tested for "
        "equivalence to 50 % within ± this margin (TOST). Fix it before publishing.",
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "studies"

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs) -> None:
        if not self.slug:
            self.slug = slugify(self.name)[:40] or secrets.token_hex(4)
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("quiz:start", args=[self.slug])

    @property
    def is_closed(self) -> bool:
        return self.closed_at is not None

    def results_visible_to(self, user) -> bool:
        return user.is_staff or (self.is_published and self.results_public)


def _panel_path(panel: "StudyPanel", filename: str) -> str:
    return random_png_name("panels")


class StudyPanel(models.Model):
    """An image rendered, at publish, to the bytes every participant of the study is served.

    Serving only stored bytes of one length makes the response's size and timing independent of
    the source image and of its kind.
    """

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="panels")
    image = models.ForeignKey(Image, on_delete=models.PROTECT, related_name="study_panels")
    file = models.FileField(upload_to=_panel_path)
    # The viewer's rendition (a click enlarges the panel): every image of the study at one side,
    # the study's viewer size (quiz.studies.panels.viewer_size_for), so its dimensions and byte
    # length are the same for every image too. Empty for a study rendered before the viewer.
    full_file = models.FileField(upload_to=_panel_path, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["study", "image"], name="one_panel_per_study_image"),
        ]

    def __str__(self) -> str:
        return f"{self.study} panel of image #{self.image_id}"


class LeakAudit(Job):
    """The publish check of a study: its rules, and a classifier on everything but the pixels."""

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="audits")
    passed = models.BooleanField(null=True)
    # Publish the study when the audit passes (the admin's Publish action) or only report.
    publish_on_pass = models.BooleanField(default=False)
    # {"problems": [...], "auc": x, "ci95": [lo, hi], "features": {...}, "near_copies": [...]}
    report = models.JSONField(default=dict, blank=True)

    def __str__(self) -> str:
        return f"Leak audit of {self.study}"
