from django import forms

from quiz.models import Expertise


class ConsentForm(forms.Form):
    consent = forms.BooleanField(
        label="I agree to take part; my answers are recorded anonymously for research.",
        error_messages={"required": "Please give your consent to take part."},
    )
    expertise = forms.ChoiceField(
        label="Your experience with ultrasound (optional)",
        choices=Expertise.choices,
        required=False,
    )
