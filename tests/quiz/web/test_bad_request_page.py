"""The 400 page names why a request was refused, in fixed words that quote nothing of the request.

The tests run with DEBUG off (pytest-django's default), as the site does in production; with
DEBUG on Django shows its technical page instead.
"""

import pytest
from django.core.exceptions import SuspiciousFileOperation
from django.test import RequestFactory
from django.urls import reverse

from quiz.models import ImageKind
from tests.participant_requests import answers_for, consent, round_page
from webapp.errors import bad_request

pytestmark = pytest.mark.django_db


def _reason(page: str) -> str:
    start = page.index('<p class="error" role="alert">') + len('<p class="error" role="alert">')
    return page[start : page.index("</p>", start)]


def test_a_participant_gets_the_same_400_page_whatever_the_truth_of_the_answers(
    client, make_study, settings
):
    study = make_study()
    consent(client, study)
    round_, _ = round_page(client, study)
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 5
    url = reverse("quiz:submit", args=[study.slug, round_.token])
    right = client.post(url, answers_for(round_, correct=True))
    wrong = client.post(url, answers_for(round_, correct=False))
    assert right.status_code == wrong.status_code == 400
    page = right.content.decode()
    assert _reason(page) == "The form sent more fields than this site accepts."
    assert "Real or Synthetic?" in page  # the site's own layout, not Django's blank page
    # Nothing on it depends on the panels: answering every panel right or wrong reads the same.
    assert right.content == wrong.content
    assert "real" not in page.lower().replace("real or synthetic?", "")


def test_a_panel_requested_under_a_foreign_host_name_gets_the_same_400_whatever_its_truth(
    client, make_study
):
    study = make_study()
    consent(client, study)
    round_, _ = round_page(client, study)
    pages = {}
    for panel in round_.panels.select_related("image"):
        response = client.get(
            reverse("quiz:panel", args=[study.slug, panel.token]), HTTP_HOST="evil.example"
        )
        assert response.status_code == 400
        pages.setdefault(panel.image.kind, set()).add(response.content)
    assert set(pages) == {ImageKind.REAL, ImageKind.SYNTHETIC}
    assert pages[ImageKind.REAL] == pages[ImageKind.SYNTHETIC] and len(pages[ImageKind.REAL]) == 1
    page = pages[ImageKind.REAL].pop().decode()
    assert _reason(page) == "This site does not answer to the host name the request was sent to."
    assert "evil.example" not in page and "ALLOWED_HOSTS" not in page


def test_the_reason_never_quotes_the_exception_message():
    request = RequestFactory().get("/")
    exception = SuspiciousFileOperation("Could not derive file name from '%%%<script>'")
    response = bad_request(request, exception)
    assert response.status_code == 400
    page = response.content.decode()
    assert _reason(page) == "A file name in the request could not be used."
    assert "%%%" not in page and "script>'" not in page
