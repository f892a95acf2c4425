"""A participant's requests in Django's test client: consent, the round page, a round's answers."""

from django.urls import reverse

from quiz.models import ImageKind, Round


def consent(client, study, expertise: str = "sonographer"):
    return client.post(
        reverse("quiz:start", args=[study.slug]), {"consent": "on", "expertise": expertise}
    )


def round_page(client, study) -> tuple[Round, str]:
    response = client.get(reverse("quiz:round", args=[study.slug]))
    assert response.status_code == 200
    return Round.objects.latest("served_at"), response.content.decode()


def answers_for(round_: Round, *, correct: bool = True) -> dict[str, str]:
    answers = {}
    for panel in round_.panels.select_related("image"):
        truth = panel.image.kind
        other = ImageKind.SYNTHETIC if truth == ImageKind.REAL else ImageKind.REAL
        answers[f"panel-{panel.token}"] = truth if correct else other
        answers[f"time-{panel.token}"] = "1234"
    return answers
