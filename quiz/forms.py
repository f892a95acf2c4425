import re

from django import forms

from quiz.models import Expertise

# Recruitment platforms' ids (Prolific: 24 hex digits; MTurk: A1B2...; SONA: digits) all fit.
EXTERNAL_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")


class ConsentForm(forms.Form):
    consent = forms.BooleanField(
        label="I have read the information above and agree to take part.",
        error_messages={"required": "Please give your consent to take part."},
    )
    expertise = forms.ChoiceField(
        label="Your role (optional)",
        choices=Expertise.choices,
        required=False,
    )
    years_experience = forms.IntegerField(
        label="Years of experience reading or acquiring ultrasound images (optional)",
        required=False,
        min_value=0,
        max_value=70,
    )
