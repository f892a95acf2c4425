"""Publishing's leak audit still crawls the site under the production security settings (HTTPS):
its own server stands where the TLS proxy would, and its form posts name their origin."""

import io

import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.core.management import call_command

from quiz.integrity.leak_audit import server
from quiz.models import LeakAudit, Participant

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def https_settings(settings, monkeypatch):
    # What webapp/settings.py sets when HTTPS is on (the default with DEBUG=0).
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SECURE_SSL_REDIRECT = True
    settings.SESSION_COOKIE_SECURE = True
    settings.CSRF_COOKIE_SECURE = True
    settings.SECURE_HSTS_SECONDS = 3600
    # webapp.wsgi's application read the settings when first imported: the audit's server gets
    # one that reads these (as the production worker's does), and none is left behind with them.
    monkeypatch.setattr(server, "get_internal_wsgi_application", WSGIHandler)


@pytest.mark.full_audit
def test_a_clean_study_passes_its_audit_with_https_on(make_study, https_settings):
    study = make_study(real=30, synthetic=30, feedback="score_at_close")
    out = io.StringIO()
    call_command("audit_leaks", study.slug, stdout=out)
    audit = LeakAudit.objects.get(study=study)
    assert audit.error == "" and audit.passed is True, out.getvalue()
    assert "PASS" in out.getvalue()
    assert not Participant.objects.filter(study=study).exists()
