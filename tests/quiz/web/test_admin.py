"""The researcher's admin: training runs, their progress, generation and publishing studies."""

import json
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from quiz import tasks
from quiz.models import (
    Dataset,
    GenerationJob,
    IngestJob,
    JobStatus,
    LeakAudit,
    Study,
    TrainingRun,
)
from tests.admin_forms import dataset_form

pytestmark = pytest.mark.django_db


def _run(dataset: Dataset, **fields) -> TrainingRun:
    defaults = {"name": "run", "config": {"resolution": 48}, "total_steps": 100}
    return TrainingRun.objects.create(dataset=dataset, **{**defaults, **fields})


def test_staff_pages_need_a_staff_login(client, make_study):
    study = make_study()
    image = study.images.first()
    for url in (
        reverse("admin:quiz_trainingrun_changelist"),
        reverse("quiz:staff_image", args=[image.pk]),
    ):
        response = client.get(url)
        assert response.status_code == 302
        assert "/admin/login/" in response["Location"]


def test_the_train_action_opens_a_prefilled_training_form(admin_client, make_study):
    make_study()
    dataset = Dataset.objects.get()
    response = admin_client.post(
        reverse("admin:quiz_dataset_changelist"),
        {"action": "train_gan", "_selected_action": [dataset.pk]},
    )
    assert response.status_code == 302
    form_page = admin_client.get(response["Location"])
    assert f'<option value="{dataset.pk}" selected>' in form_page.content.decode()


def test_adding_a_training_run_stores_the_preset_config_and_enqueues_it(
    admin_client, make_study, django_capture_on_commit_callbacks, sent_tasks
):
    make_study()
    dataset = Dataset.objects.get()
    sent = sent_tasks["quiz.tasks.train_run"]
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            reverse("admin:quiz_trainingrun_add"),
            {
                "dataset": dataset.pk,
                "name": "first",
                "preset": "unconditional:tiny",
                "steps": 40,
                "seed": 3,
            },
        )
    assert response.status_code == 302
    run = TrainingRun.objects.get(name="first")
    assert run.config["steps"] == 40 and run.config["seed"] == 3
    assert run.config["resolution"] == 32
    assert run.total_steps == 40 and run.status == JobStatus.QUEUED
    assert sent == [run.pk]


def test_a_training_run_on_an_empty_dataset_is_refused(admin_client):
    dataset = Dataset.objects.create(name="empty")
    response = admin_client.post(
        reverse("admin:quiz_trainingrun_add"),
        {"dataset": dataset.pk, "name": "x", "preset": "unconditional:tiny"},
    )
    assert response.status_code == 200
    assert "has no images yet" in response.content.decode()
    assert not TrainingRun.objects.exists()


def test_the_training_form_offers_every_registered_family_and_checks_its_config(
    admin_client, make_study, toy_family, django_capture_on_commit_callbacks, sent_tasks
):
    make_study()
    dataset = Dataset.objects.get()
    page = admin_client.get(reverse("admin:quiz_trainingrun_add")).content.decode()
    assert f'<optgroup label="{toy_family.label}">' in page
    assert '<option value="toy_mean:tiny">tiny</option>' in page
    tiny = "tiny: DCGAN 32 px, 60 steps — seconds (tests)"  # the preset's description
    assert f'<option value="unconditional:tiny">{tiny}</option>' in page

    add = reverse("admin:quiz_trainingrun_add")
    fields = {"dataset": dataset.pk, "name": "toy"}
    refused = admin_client.post(add, {**fields, "preset": "toy_mean:broken"})
    assert refused.status_code == 200
    assert "Invalid training configuration: lr must be positive" in refused.content.decode()
    assert not TrainingRun.objects.filter(name="toy").exists()

    sent = sent_tasks["quiz.tasks.train_run"]
    with django_capture_on_commit_callbacks(execute=True):
        added = admin_client.post(add, {**fields, "preset": "toy_mean:tiny", "steps": 9})
    assert added.status_code == 302
    run = TrainingRun.objects.get(name="toy")
    assert run.family == "toy_mean"
    assert run.config == toy_family.preset("tiny", steps=9).to_dict()
    assert run.total_steps == 9 and sent == [run.pk]


def test_a_family_that_is_not_registered_is_neither_offered_nor_accepted(admin_client, make_study):
    make_study()
    page = admin_client.get(reverse("admin:quiz_trainingrun_add")).content.decode()
    assert "toy_mean" not in page
    response = admin_client.post(
        reverse("admin:quiz_trainingrun_add"),
        {"dataset": Dataset.objects.get().pk, "name": "x", "preset": "toy_mean:tiny"},
    )
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not TrainingRun.objects.filter(name="x").exists()


def test_the_run_page_shows_progress_losses_and_polls(admin_client, make_study):
    make_study()
    run = _run(
        Dataset.objects.get(),
        status=JobStatus.RUNNING,
        step=50,
        metrics={"step": [10, 50], "loss_d": [1.5, 1.1], "loss_g": [0.7, 0.9]},
    )
    page = admin_client.get(reverse("admin:quiz_trainingrun_change", args=[run.pk]))
    html = page.content.decode()
    assert 'id="run-progress-bar" max="1" value="0.5"' in html
    assert "<polyline" in html and "loss_d" in html

    progress = json.loads(admin_client.get(reverse("quiz:run_progress", args=[run.pk])).content)
    assert progress["status"] == "running" and progress["progress"] == 0.5
    assert progress["loss_svg"].count("<polyline") == 2


def test_cancel_stops_queued_and_stranded_runs_and_asks_running_ones_to_stop(
    admin_client, make_study
):
    make_study()
    dataset = Dataset.objects.get()
    queued = _run(dataset, name="queued")
    live_lease = timezone.now() + timedelta(seconds=60)
    running = _run(dataset, name="running", status=JobStatus.RUNNING, lease_expires_at=live_lease)
    lapsed = timezone.now() - timedelta(seconds=1)
    stranded = _run(dataset, name="stranded", status=JobStatus.RUNNING, lease_expires_at=lapsed)
    admin_client.post(
        reverse("admin:quiz_trainingrun_changelist"),
        {"action": "cancel", "_selected_action": [queued.pk, running.pk, stranded.pk]},
    )
    for run in (queued, running, stranded):
        run.refresh_from_db()
    assert queued.status == JobStatus.CANCELLED
    assert stranded.status == JobStatus.CANCELLED and not stranded.lease_owner
    assert running.status == JobStatus.RUNNING and running.cancel_requested


def test_retry_queues_failed_cancelled_and_stranded_runs_but_not_live_ones(
    admin_client, make_study, django_capture_on_commit_callbacks, sent_tasks
):
    make_study()
    dataset = Dataset.objects.get()
    live_lease = timezone.now() + timedelta(seconds=60)
    lapsed = timezone.now() - timedelta(seconds=1)
    runs = [
        _run(dataset, name="failed", status=JobStatus.FAILED, error="boom"),
        _run(dataset, name="cancelled", status=JobStatus.CANCELLED, cancel_requested=True),
        _run(dataset, name="stranded", status=JobStatus.RUNNING, lease_expires_at=lapsed),
    ]
    live = _run(dataset, name="live", status=JobStatus.RUNNING, lease_expires_at=live_lease)
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            reverse("admin:quiz_trainingrun_changelist"),
            {"action": "retry", "_selected_action": [run.pk for run in [*runs, live]]},
            follow=True,
        )
    assert "Queued 3 job(s) again" in response.content.decode()
    assert "Not retried: live: it is running" in response.content.decode()
    for run in runs:
        run.refresh_from_db()
        assert (run.status, run.error, run.cancel_requested) == (JobStatus.QUEUED, "", False)
    assert sorted(sent_tasks["quiz.tasks.train_run"]) == sorted(run.pk for run in runs)
    live.refresh_from_db()
    assert live.status == JobStatus.RUNNING


def test_generation_needs_a_checkpoint_and_takes_fresh_seeds(
    admin_client, make_study, django_capture_on_commit_callbacks, sent_tasks
):
    make_study()
    dataset = Dataset.objects.get()
    untrained = _run(dataset, name="untrained")
    url = reverse("admin:quiz_trainingrun_changelist")
    response = admin_client.post(
        url,
        {"action": "generate", "_selected_action": [untrained.pk], "count": 5, "apply": "1"},
        follow=True,
    )
    assert "No checkpoint yet for: untrained" in response.content.decode()
    assert not GenerationJob.objects.exists()

    trained = _run(dataset, name="trained", status=JobStatus.SUCCEEDED, checkpoint="runs/1/c.pt")
    form = admin_client.post(url, {"action": "generate", "_selected_action": [trained.pk]})
    assert form.status_code == 200 and 'name="count"' in form.content.decode()
    for count in (5, 7):
        with django_capture_on_commit_callbacks(execute=True):
            admin_client.post(
                url,
                {
                    "action": "generate",
                    "_selected_action": [trained.pk],
                    "count": count,
                    "apply": "1",
                },
            )
    jobs = list(GenerationJob.objects.order_by("pk").values_list("count", "first_seed"))
    assert jobs == [(5, 0), (7, 5)]


def test_publishing_a_study_audits_it_in_the_background_and_shows_the_result(
    admin_client, make_study, django_capture_on_commit_callbacks, sent_tasks
):
    sent = sent_tasks["quiz.tasks.audit_study"]
    study = make_study(real=2, synthetic=1)
    study.is_published = False
    study.save()
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            reverse("admin:quiz_study_changelist"),
            {"action": "publish", "_selected_action": [study.pk]},
            follow=True,
        )
    audit = LeakAudit.objects.get()
    assert audit.publish_on_pass and sent == [audit.pk]
    assert "for leaks in the background; it is published if it passes" in response.content.decode()

    tasks.audit_study(audit.pk)  # what the worker runs

    page = admin_client.get(reverse("admin:quiz_study_change", args=[study.pk])).content.decode()
    assert "Not enough images" in page
    assert not Study.objects.get().is_published


def test_the_audit_action_audits_without_publishing(
    admin_client, make_study, django_capture_on_commit_callbacks, sent_tasks
):
    sent = sent_tasks["quiz.tasks.audit_study"]
    study = make_study()
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(
            reverse("admin:quiz_study_changelist"),
            {"action": "audit", "_selected_action": [study.pk]},
        )
    audit = LeakAudit.objects.get()
    assert not audit.publish_on_pass and sent == [audit.pk]


def test_a_study_page_shows_each_audit_with_its_auc_and_findings(admin_client, make_study):
    study = make_study()
    LeakAudit.objects.create(
        study=study,
        status=JobStatus.SUCCEEDED,
        passed=False,
        report={
            "problems": [],
            "auc": 0.97,
            "ci95": [0.95, 0.99],
            "observations": 2000,
            "by_group": {"content-length": 0.99, "dimensions": None},
            "findings": ["content-length separates real from synthetic panels: AUC 0.99"],
        },
    )
    page = admin_client.get(reverse("admin:quiz_study_change", args=[study.pk])).content.decode()
    assert "0.970 (0.950–0.990) over 2000 panels" in page
    assert "dimensions: constant" in page
    assert "content-length separates real from synthetic panels: AUC 0.99" in page


def test_a_study_page_shows_the_oracle_check_and_the_audits_warnings(admin_client, make_study):
    from quiz.integrity.oracle_check import oracle_rule, study_oracle_check

    study = make_study(real=20, synthetic=20, feedback="key", oracle_risk_acknowledgement="A demo.")
    result = study_oracle_check(study)
    _, warnings = oracle_rule(study, result)
    LeakAudit.objects.create(
        study=study,
        status=JobStatus.SUCCEEDED,
        passed=True,
        report={"problems": [], "warnings": warnings, "oracle": result.as_dict()},
    )
    page = admin_client.get(reverse("admin:quiz_study_change", args=[study.pk])).content.decode()
    assert "Published under this acknowledgement: A demo." in page
    assert "public after that one session" in page


def test_closing_a_study_ends_data_collection(admin_client, make_study):
    study = make_study()
    admin_client.post(
        reverse("admin:quiz_study_changelist"),
        {"action": "close", "_selected_action": [study.pk]},
    )
    study.refresh_from_db()
    assert study.is_closed


def test_an_oversized_upload_is_refused_naming_the_largest_file(admin_client, settings):
    settings.MAX_UPLOAD_BYTES = 1000
    files = [
        SimpleUploadedFile("small.png", b"x" * 100),
        SimpleUploadedFile("huge.zip", b"x" * 2000),
    ]
    response = admin_client.post(
        reverse("admin:quiz_dataset_add"),
        dataset_form("too big", upload=files),
    )
    assert response.status_code == 200
    assert "largest file: huge.zip" in response.content.decode()
    assert not Dataset.objects.exists() and not IngestJob.objects.exists()


def test_an_upload_is_stored_and_handed_to_an_ingest_job(
    admin_client, settings, django_capture_on_commit_callbacks, sent_tasks
):
    sent = sent_tasks["quiz.tasks.ingest_upload"]
    files = [SimpleUploadedFile("a scan.png", b"first"), SimpleUploadedFile("b.zip", b"second")]
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            reverse("admin:quiz_dataset_add"),
            dataset_form("uploaded", upload=files),
        )
    assert response.status_code == 302
    job = IngestJob.objects.get()
    assert sent == [job.pk]
    stored = [settings.MEDIA_ROOT / upload["stored"] for upload in job.uploads]
    assert [path.read_bytes() for path in stored] == [b"first", b"second"]
    # Stored under generated names; the names they were uploaded under are kept as text.
    assert [path.name for path in stored] == ["0001.png", "0002.zip"]
    assert [upload["name"] for upload in job.uploads] == ["a scan.png", "b.zip"]
