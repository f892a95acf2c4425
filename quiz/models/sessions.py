"""A participant's session: consent, rounds of panels, and one guess per panel (a trial)."""

import uuid

from django.db import models
from django.utils import timezone

from quiz.models.datasets import Image
from quiz.models.studies import Feedback, Layout, Study
from quiz.models.tokens import new_token


class Expertise(models.TextChoices):
    UNSPECIFIED = "", "Prefer not to say"
    NONE = "none", "No ultrasound experience"
    STUDENT = "student", "Student or trainee"
    RESEARCHER = "researcher", "Ultrasound researcher"
    SONOGRAPHER = "sonographer", "Sonographer or clinician who scans"


class SessionState(models.TextChoices):
    """How far a session went (docs/study-design.md, "Sessions accounted for").

    - finished: every test round of the session's design was submitted (`finished_at` is set
      when the last one is recorded);
    - partial: at least one test round submitted, not finished;
    - abandoned: consented, no test round submitted (a practice round alone is not data).
    """

    FINISHED = "finished", "Finished"
    PARTIAL = "partial", "Partial"
    ABANDONED = "abandoned", "Abandoned"


class ParticipantQuerySet(models.QuerySet):
    def counted_kind(self) -> "ParticipantQuerySet":
        """Participants whose sessions are data: neither the leak audit's nor a staff pilot."""
        return self.filter(is_audit=False, is_pilot=False)

    def with_progress(self) -> "ParticipantQuerySet":
        """Annotated with `test_rounds_submitted`, which `Participant.state` reads."""
        return self.annotate(
            test_rounds_submitted=models.Count(
                "rounds",
                filter=models.Q(rounds__is_practice=False, rounds__submitted_at__isnull=False),
            )
        )


class Participant(models.Model):
    """An anonymous quiz taker, known only by a random token kept in their session.

    Everything here was produced by the participant's browser or drawn by the design: the admin
    shows it and changes none of it (quiz.admin.participants).
    """

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="participants")
    token = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    expertise = models.CharField(max_length=16, choices=Expertise.choices, blank=True)
    years_experience = models.PositiveSmallIntegerField(null=True, blank=True)
    # From the recruitment link (?PROLIFIC_PID= or ?pid=): one session per id and study; the id
    # is the credential that resumes it (docs/quiz-integrity.md).
    external_id = models.CharField(max_length=64, blank=True)
    # Prolific's STUDY_ID and SESSION_ID from the same link; a session that has a SESSION_ID is
    # resumed only by a link with the same one.
    external_study_id = models.CharField(max_length=64, blank=True)
    external_session_id = models.CharField(max_length=64, blank=True)
    consented_at = models.DateTimeField(default=timezone.now)
    # The session's test trials in order, one letter per panel: R real, S synthetic, C catch.
    design = models.TextField(blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # A participant the leak audit drove over HTTP; deleted when the audit ends.
    is_audit = models.BooleanField(default=False)
    # Staff taking the live study to try it ("Take as pilot"): never in a figure or an export.
    is_pilot = models.BooleanField(default=False)

    objects = ParticipantQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["study", "external_id"],
                condition=~models.Q(external_id=""),
                name="one_session_per_external_id",
            ),
        ]

    def __str__(self) -> str:
        return f"participant {self.token}"

    @property
    def state(self) -> SessionState:
        """Finished, partial or abandoned (SessionState). Reads the `with_progress` annotation
        when the participant came from such a query, else counts the submitted test rounds."""
        if self.finished_at is not None:
            return SessionState.FINISHED
        submitted = getattr(self, "test_rounds_submitted", None)
        if submitted is None:
            submitted = self.rounds.filter(is_practice=False, submitted_at__isnull=False).count()
        return SessionState.PARTIAL if submitted else SessionState.ABANDONED


class Round(models.Model):
    """One grid (or sequence) of panels shown to a participant, answered once.

    The study's protocol settings are copied onto the round, so every trial records the
    conditions it was measured under even if staff change the study later.
    """

    participant = models.ForeignKey(Participant, on_delete=models.CASCADE, related_name="rounds")
    token = models.CharField(max_length=32, default=new_token, unique=True, editable=False)
    # 0-based within the session; the practice round has its own numbering.
    index = models.PositiveSmallIntegerField(default=0)
    is_practice = models.BooleanField(default=False)
    layout = models.CharField(max_length=16, choices=Layout.choices, default=Layout.GRID)
    feedback = models.CharField(max_length=16, choices=Feedback.choices, blank=True)
    exposure_limit_ms = models.PositiveIntegerField(null=True, blank=True)
    # The confidence scale's number of points (Study.rating_points); None: Real/Synthetic answers.
    rating_points = models.PositiveSmallIntegerField(null=True, blank=True)
    # Under adaptive exposure (HYPE-time), the staircase this round's trial belongs to: the
    # generator of its synthetic image, or for a real trial the staircase it was dealt to
    # (quiz.studies.staircase). Null outside adaptive studies, and on practice and catch rounds.
    staircase = models.ForeignKey(
        "Generator", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # How often the page of a timed round was drawn: a reload must not show its images again.
    page_views = models.PositiveSmallIntegerField(default=0)
    served_at = models.DateTimeField(default=timezone.now)
    submitted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            # Two concurrent first requests cannot open two rounds for the same slot.
            models.UniqueConstraint(
                fields=["participant", "is_practice", "index"], name="one_round_per_slot"
            ),
        ]

    def __str__(self) -> str:
        return f"round {self.pk} of {self.participant}"

    @property
    def study(self) -> Study:
        return self.participant.study


class RoundPanel(models.Model):
    """Which image sat at which letter of a round. Its token is the only handle the browser sees."""

    round = models.ForeignKey(Round, on_delete=models.CASCADE, related_name="panels")
    letter = models.CharField(max_length=1)
    image = models.ForeignKey(Image, on_delete=models.PROTECT, related_name="round_panels")
    token = models.CharField(max_length=32, default=new_token, unique=True, editable=False)
    is_catch = models.BooleanField(default=False)
    # In the side-by-side layout (Layout.PAIR), the 0-based pair this panel belongs to within its
    # round: a pair's two panels are one trial, the first letter on the left. Null otherwise.
    pair = models.PositiveSmallIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["letter"]
        constraints = [
            models.UniqueConstraint(fields=["round", "letter"], name="one_image_per_letter"),
        ]

    def __str__(self) -> str:
        return f"{self.round} panel {self.letter}"


class Answer(models.TextChoices):
    REAL = "real", "Real"
    SYNTHETIC = "synthetic", "Synthetic"


class Guess(models.Model):
    """One trial of the perceptual Turing test: a participant's answer for one panel.

    In the side-by-side layout a pair is one trial, recorded as one Guess on the panel the
    participant chose as real (answer "real"; correct when that panel is real); the other panel
    of the pair has none.
    """

    panel = models.OneToOneField(RoundPanel, on_delete=models.CASCADE, related_name="guess")
    answer = models.CharField(max_length=16, choices=Answer.choices)
    correct = models.BooleanField()
    # Milliseconds from the panel appearing to the last answer given for it, if measured.
    response_ms = models.PositiveIntegerField(null=True, blank=True)
    # Milliseconds the image was on screen when an exposure limit hid it (browser-measured).
    exposure_ms = models.PositiveIntegerField(null=True, blank=True)
    # The confidence rating, 1 (certainly real) … Round.rating_points (certainly synthetic), from
    # which `answer` was derived; None where the round asked for Real/Synthetic.
    rating = models.PositiveSmallIntegerField(null=True, blank=True)
    # Milliseconds the viewer (the enlarged panel) was open over the trial, summed over every
    # opening (browser-measured); None: never opened, or not measured (no JavaScript).
    viewer_ms = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "guesses"

    def __str__(self) -> str:
        return f"{self.panel}: {self.answer}"
