"""Participants and their trials, read-only: what the quiz recorded.

Everything here was produced by a participant's browser or drawn by the design (the hidden
sequence of real and synthetic trials, the ids from the recruitment link, the times, the
answers, the audit and pilot marks), so nothing can be added or changed. One deletion remains:
a whole participant, for a withdrawal of consent; it is logged (the admin's history and the
`quiz.withdrawals` log) and the report's cache key changes with it.
"""

import logging

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from quiz.models import Guess, Participant

withdrawals = logging.getLogger("quiz.withdrawals")


@admin.register(Participant)
class ParticipantAdmin(admin.ModelAdmin):
    list_display = [
        "token",
        "study",
        "state",
        "kind",
        "external_id",
        "external_study_id",
        "external_session_id",
        "expertise",
        "consented_at",
        "finished_at",
    ]
    list_filter = ["study", "is_pilot", "is_audit", "expertise"]
    search_fields = ["external_id", "external_session_id", "token"]
    fields = [
        "token",
        "study",
        "state",
        "kind",
        "external_id",
        "external_study_id",
        "external_session_id",
        "expertise",
        "years_experience",
        "consented_at",
        "finished_at",
        "design",
        "is_audit",
        "is_pilot",
    ]
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[Participant]:
        return super().get_queryset(request).with_progress().select_related("study")

    @admin.display(description="Session")
    def state(self, participant: Participant) -> str:
        return participant.state.label

    @admin.display(description="Counted as")
    def kind(self, participant: Participant) -> str:
        if participant.is_pilot:
            return "pilot (never counted)"
        if participant.is_audit:
            return "leak audit (never counted)"
        return "participant"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Participant | None = None) -> bool:
        return False

    def get_deleted_objects(self, objs, request: HttpRequest):
        # A withdrawal takes the participant's trials with it, though no trial can be deleted
        # on its own (GuessAdmin).
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        perms_needed.discard(Guess._meta.verbose_name)
        return deleted, counts, perms_needed, protected

    def delete_model(self, request: HttpRequest, obj: Participant) -> None:
        _log_withdrawal(request, obj)
        super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Participant]) -> None:
        for participant in queryset:
            _log_withdrawal(request, participant)
        super().delete_queryset(request, queryset)


def _log_withdrawal(request: HttpRequest, participant: Participant) -> None:
    withdrawals.warning(
        "withdrawal: participant #%s (token %s, external id %r) of study %r deleted with its "
        "trials by %s",
        participant.pk,
        participant.token,
        participant.external_id,
        participant.study.slug,
        request.user.get_username(),
    )


@admin.register(Guess)
class GuessAdmin(admin.ModelAdmin):
    list_display = ["panel", "answer", "correct", "response_ms", "created_at"]
    list_filter = ["correct", "answer", "panel__round__participant__study"]
    readonly_fields = ["panel", "answer", "correct", "response_ms", "exposure_ms", "created_at"]
    fields = readonly_fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Guess | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Guess | None = None) -> bool:
        return False
