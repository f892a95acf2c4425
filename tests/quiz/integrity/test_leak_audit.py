"""The leak audit takes the quiz over HTTP: a clean study passes, each planted leak fails it.

Leaks are planted at the HTTP layer, by rewriting the live server's responses for one class, so
the tests do not depend on how the views build them.
"""

import io
import re
import time
import zlib
from collections.abc import Callable

import numpy as np
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test.testcases import QuietWSGIRequestHandler
from PIL import Image as PILImage

from quiz import jobs, tasks
from quiz.imaging import as_grey, decode_png, encode_panel_png
from quiz.integrity import leak_audit
from quiz.integrity.leak_audit import server
from quiz.integrity.leak_audit.classifier import AUC_MAX, AUC_UPPER_MAX
from quiz.integrity.leak_audit.crawl import DEFAULT_OBSERVATIONS
from quiz.models import ImageKind, JobStatus, LeakAudit, Participant, RoundPanel, Study
from quiz.studies.panels import render_study_panels
from tests.quiz.studies.colour_studies import ColourWorld

pytestmark = pytest.mark.django_db(transaction=True)

# A planted leak separates the classes completely; a few hundred panels show it beyond doubt.
LEAK_OBSERVATIONS = 200

Rewrite = Callable[[str, list[tuple[str, str]], bytes], tuple[list[tuple[str, str]], bytes]]


@pytest.fixture(autouse=True)
def _no_nagle(monkeypatch):
    # The live server leaves Nagle's algorithm on; with delayed ACKs each response waits ~40 ms.
    monkeypatch.setattr(QuietWSGIRequestHandler, "disable_nagle_algorithm", True, raising=False)


def _rewriting(app, rewrite: Rewrite, delay: Callable[[str], float] = lambda path: 0.0):
    """The WSGI app, its responses passed through rewrite(path, headers, body)."""

    def wrapped(environ, start_response):
        time.sleep(delay(environ["PATH_INFO"]))
        captured = []
        result = app(
            environ, lambda status, headers, exc_info=None: captured.extend([status, headers])
        )
        try:
            body = b"".join(result)
        finally:
            if hasattr(result, "close"):
                result.close()
        status, headers = captured
        headers, body = rewrite(environ["PATH_INFO"], headers, body)
        start_response(
            status,
            [(k, str(len(body)) if k.lower() == "content-length" else v) for k, v in headers],
        )
        return [body]

    return wrapped


def _plant(monkeypatch, live_server, rewrite: Rewrite, **kwargs) -> None:
    server = live_server.thread.httpd
    monkeypatch.setattr(server, "application", _rewriting(server.get_app(), rewrite, **kwargs))


def _real_panel(path: str) -> bool:
    match = re.search(r"/panel/([\w-]+)\.png$", path)
    if match is None:
        return False
    panel = RoundPanel.objects.select_related("image").filter(token=match[1]).first()
    return panel is not None and panel.image.kind == ImageKind.REAL


def _real_viewer_rendition(path: str) -> bool:
    match = re.search(r"/panel/([\w-]+)/full\.png$", path)
    if match is None:
        return False
    panel = RoundPanel.objects.select_related("image").filter(token=match[1]).first()
    return panel is not None and panel.image.kind == ImageKind.REAL


def _for_real_panels(
    change: Callable[[list, bytes], tuple[list, bytes]], which: Callable[[str], bool] = _real_panel
) -> Rewrite:
    def rewrite(path, headers, body):
        return change(headers, body) if which(path) else (headers, body)

    return rewrite


def _audit(study: Study, url: str | None, observations: int = LEAK_OBSERVATIONS) -> LeakAudit:
    audit = LeakAudit.objects.create(study=study)
    audit = jobs.run_now(audit, base_url=url, observations=observations)
    assert audit.status == JobStatus.SUCCEEDED, audit.error
    return audit


def _assert_fails_naming(audit: LeakAudit, group: str) -> None:
    assert audit.passed is False
    report = audit.report
    assert report["auc"] > AUC_MAX
    assert report["by_group"][group] >= 0.9, report["by_group"]
    assert any(finding.startswith(f"{group} separates") for finding in report["findings"])


def _as_jpeg(headers, body):
    buffer = io.BytesIO()
    PILImage.open(io.BytesIO(body)).save(buffer, format="JPEG", quality=95)
    headers = [(k, "image/jpeg" if k.lower() == "content-type" else v) for k, v in headers]
    return headers, buffer.getvalue()


def _larger(headers, body):
    pixels = decode_png(body)
    side = pixels.shape[0] + 8
    return headers, encode_panel_png(np.asarray(PILImage.fromarray(pixels).resize((side, side))))


def _with_header(headers, body):
    return [*headers, ("Last-Modified", "Mon, 01 Dec 2025 09:00:00 GMT")], body


def _padded(headers, body):
    # A private ancillary chunk of 16 bytes before IEND: browsers skip it, the length grows.
    data = b"prVt" + bytes(16)
    chunk = (16).to_bytes(4, "big") + data + zlib.crc32(data).to_bytes(4, "big")
    return headers, body[:-12] + chunk + body[-12:]


def _image_ids_in_page(path, headers, body):
    if not path.endswith("/round/"):
        return headers, body
    page = body.decode()
    # Panel tokens only: a viewer link (/panel/<token>/full.png) names its token before "/full".
    for token in set(re.findall(r"/panel/([\w-]{16,})\.png", page)):
        image_id = RoundPanel.objects.get(token=token).image_id
        page = page.replace(f'{token}.png"', f'{token}.png" data-image="{image_id}"')
    return headers, page.encode()


@pytest.mark.full_audit
def test_a_clean_study_passes_the_audit(live_server, make_study):
    study = make_study(real=30, synthetic=30, feedback="score_at_close")
    out = io.StringIO()
    call_command("audit_leaks", study.slug, "--url", live_server.url, stdout=out)

    audit = LeakAudit.objects.get(study=study)
    report = audit.report
    assert audit.passed is True
    assert report["observations"] == DEFAULT_OBSERVATIONS
    assert report["auc"] <= AUC_MAX and report["ci95"][1] <= AUC_UPPER_MAX
    assert report["ci95"][0] <= report["auc"] <= report["ci95"][1]
    # Stored panels: every file the same length, size and format, real or synthetic.
    assert report["by_group"]["content-length"] is None
    assert report["by_group"]["dimensions"] is None
    assert report["by_group"]["format"] is None
    assert report["findings"] == []
    assert "PASS" in out.getvalue() and "ROC AUC" in out.getvalue()
    assert not Participant.objects.filter(study=study).exists()


def test_real_panels_served_as_jpeg_fail_the_audit(live_server, make_study, monkeypatch):
    study = make_study()
    _plant(monkeypatch, live_server, _for_real_panels(_as_jpeg))
    _assert_fails_naming(_audit(study, live_server.url), "format")


def test_real_panels_rendered_at_another_size_fail_the_audit(live_server, make_study, monkeypatch):
    study = make_study()
    _plant(monkeypatch, live_server, _for_real_panels(_larger))
    _assert_fails_naming(_audit(study, live_server.url), "dimensions")


def test_real_viewer_renditions_at_another_size_fail_the_audit(
    live_server, make_study, monkeypatch
):
    # The crawl fetches each panel's viewer rendition too: a leak there alone is found.
    study = make_study()
    enlarge = _for_real_panels(_larger, _real_viewer_rendition)
    viewers = []

    def rewrite(path, headers, body):
        if path.endswith("/full.png"):
            viewers.append(path)
        return enlarge(path, headers, body)

    _plant(monkeypatch, live_server, rewrite)
    _assert_fails_naming(_audit(study, live_server.url), "dimensions")
    assert len(viewers) >= LEAK_OBSERVATIONS


def test_a_header_only_real_panels_carry_fails_the_audit(live_server, make_study, monkeypatch):
    study = make_study()
    _plant(monkeypatch, live_server, _for_real_panels(_with_header))
    _assert_fails_naming(_audit(study, live_server.url), "headers")


def test_real_panels_a_few_bytes_longer_fail_the_audit(live_server, make_study, monkeypatch):
    study = make_study()
    _plant(monkeypatch, live_server, _for_real_panels(_padded))
    _assert_fails_naming(_audit(study, live_server.url), "content-length")


def test_a_slower_path_for_real_panels_fails_the_audit(live_server, make_study, monkeypatch):
    study = make_study()
    _plant(
        monkeypatch,
        live_server,
        lambda path, headers, body: (headers, body),
        delay=lambda path: 0.01 if _real_panel(path) else 0.0,
    )
    _assert_fails_naming(_audit(study, live_server.url), "timing")


def test_real_panels_served_grey_in_a_colour_study_fail_the_audit(live_server, monkeypatch):
    # A colour study's panels are all RGB; a server that sent the real ones as grey PNGs (their
    # luminance, as stored grey images would be) is caught by the file's mode alone.
    world = ColourWorld(held_out=12, synthetic=12)
    study = Study.objects.create(name="colour", slug="colour", feedback="none")
    study.images.set([*world.held_out, *world.synthetic])
    render_study_panels(study)
    Study.objects.filter(pk=study.pk).update(is_published=True)

    def grey(headers, body):
        return headers, encode_panel_png(as_grey(decode_png(body)))

    _plant(monkeypatch, live_server, _for_real_panels(grey))
    _assert_fails_naming(_audit(study, live_server.url), "format")


def test_an_image_id_in_the_page_source_fails_the_audit(live_server, make_study, monkeypatch):
    study = make_study()
    _plant(monkeypatch, live_server, _image_ids_in_page)
    _assert_fails_naming(_audit(study, live_server.url), "page-source")


def test_the_command_audits_in_its_own_server_and_exits_1_naming_the_leak(make_study, monkeypatch):
    study = make_study()
    original = server.get_internal_wsgi_application
    monkeypatch.setattr(
        server,
        "get_internal_wsgi_application",
        lambda: _rewriting(original(), _for_real_panels(_as_jpeg)),
    )
    out = io.StringIO()
    with pytest.raises(CommandError) as failed:
        call_command("audit_leaks", study.slug, "--observations", LEAK_OBSERVATIONS, stdout=out)
    assert failed.value.returncode == 1
    assert "FAIL" in out.getvalue()
    assert "format separates real from synthetic panels: AUC 1.00" in out.getvalue()
    assert not Participant.objects.filter(study=study).exists()


def test_the_command_exits_2_naming_an_unknown_study(db):
    with pytest.raises(CommandError, match="'no-such-study'") as failed:
        call_command("audit_leaks", "no-such-study")
    assert failed.value.returncode == 2


def test_the_publish_task_fails_a_study_that_breaks_the_rules_and_does_not_publish_it(make_study):
    study = make_study(real=2, synthetic=1)
    Study.objects.filter(pk=study.pk).update(is_published=False)
    audit = LeakAudit.objects.create(study=study, publish_on_pass=True)

    tasks.audit_study(audit.pk)

    audit.refresh_from_db()
    assert audit.status == JobStatus.SUCCEEDED
    assert audit.passed is False
    assert audit.report["problems"][0].startswith("Not enough images")
    assert not Study.objects.get(pk=study.pk).is_published


def test_an_error_during_the_audit_marks_it_failed_with_the_reason(make_study, monkeypatch):
    study = make_study()

    def broken(*args, **kwargs):
        raise ConnectionRefusedError("nobody listens")

    monkeypatch.setattr(leak_audit, "collect", broken)
    audit = LeakAudit.objects.create(study=study, publish_on_pass=True)

    tasks.audit_study(audit.pk)

    audit.refresh_from_db()
    assert audit.status == JobStatus.FAILED
    assert audit.passed is None
    assert "ConnectionRefusedError: nobody listens" in audit.error
