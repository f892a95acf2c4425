"""Participants and their guesses, read-only: what the quiz recorded."""

from django.contrib import admin
from django.http import HttpRequest

from quiz.models import Guess, Participant


@admin.register(Participant)
class ParticipantAdmin(admin.ModelAdmin):
    list_display = ["token", "study", "expertise", "consented_at"]
    list_filter = ["study", "expertise"]
    readonly_fields = ["token", "study", "expertise", "consented_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(Guess)
class GuessAdmin(admin.ModelAdmin):
    list_display = ["panel", "answer", "correct", "response_ms", "created_at"]
    list_filter = ["correct", "answer", "panel__round__participant__study"]
    readonly_fields = ["panel", "answer", "correct", "response_ms", "created_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
