"""The held-out rule and the memorisation guard for generators trained elsewhere: the manifest is
their record, and without one the study says the held-out status is unknown."""

import io
import json

import pytest
from django.core.management import call_command

from quiz import tasks
from quiz.analysis.reports import methods_paragraph, study_report
from quiz.models import Generator, ImageKind, JobStatus, LeakAudit, Study
from quiz.studies.rules import (
    held_out_status,
    near_copy_pairs,
    study_problems,
    study_warnings,
)
from tests.quiz.studies.test_study_rules import _image, _pixels, _setup

pytestmark = pytest.mark.django_db


def _external_study(manifest: list[str] | None):
    """The rules' study, its synthetic images from a generator brought from elsewhere."""
    dataset, run, study = _setup()
    generator = Generator.objects.create(
        name="stylegan-home", trained_on=dataset, manifest_hashes=manifest
    )
    brought = [
        _image(_pixels(400 + seed), ImageKind.SYNTHETIC, generator=generator) for seed in range(8)
    ]
    study.images.set([*study.images.filter(kind=ImageKind.REAL), *brought])
    return dataset, run, generator, study


def test_a_real_image_its_manifest_names_is_refused_at_publish_by_name():
    dataset, run, _, study = _external_study(manifest=None)
    trained = run.trained_images.get(source_name="scan_002.png")
    generator = Generator.objects.get(name="stylegan-home")
    generator.manifest_hashes = [trained.sha256]
    generator.save()
    study.images.add(trained)
    message = (
        f"Real image #{trained.pk} (scan_002.png) was in the training set of generator "
        "“stylegan-home”, whose images are in this study: use held-out images as real panels."
    )
    assert message in study_problems(study)

    audit = LeakAudit.objects.create(study=study, publish_on_pass=True)
    tasks.audit_study(audit.pk)
    audit.refresh_from_db()
    assert audit.status == JobStatus.SUCCEEDED
    assert audit.passed is False and message in audit.report["problems"]
    assert not Study.objects.get(pk=study.pk).is_published


def test_a_manifest_hash_of_a_source_frame_catches_the_scan_cropped_any_way():
    dataset, _, generator, study = _external_study(manifest=["b" * 64])
    held = study.images.filter(kind=ImageKind.REAL).first()
    held.source_sha256 = "b" * 64
    held.save()
    assert any(
        p.startswith(f"Real image #{held.pk} ") and "of generator “stylegan-home”" in p
        for p in study_problems(study)
    )


def test_a_study_of_held_out_images_passes_with_a_manifest_and_says_it_was_checked():
    _, run, generator, study = _external_study(manifest=None)
    generator.manifest_hashes = list(run.trained_images.values_list("sha256", flat=True))
    generator.save()
    assert study_problems(study) == []
    assert study_warnings(study) == []
    assert held_out_status(study) == [
        {"generator": "stylegan-home", "held_out": "checked", "record": "training manifest"}
    ]


def test_without_a_manifest_publishing_is_allowed_and_the_report_says_unknown():
    _, _, _, study = _external_study(manifest=None)
    assert study_problems(study) == []
    assert study_warnings(study) == [
        "Generator “stylegan-home” came without a training manifest, so whether this study's "
        "real images were among those it trained on is unknown; the study's report says so. "
        "Upload its manifest on the generator's page to check them."
    ]
    report = study_report(study)
    assert report["held_out"] == [
        {"generator": "stylegan-home", "held_out": "unknown", "record": None}
    ]
    out = io.StringIO()
    call_command("study_report", study.slug, "--json", stdout=out)
    assert json.loads(out.getvalue())["held_out"] == report["held_out"]
    assert (
        "Whether the real images were among the training images of “stylegan-home” is unknown: "
        "no training manifest was given."
    ) in methods_paragraph(report)


def test_the_memorisation_guard_compares_with_the_images_a_manifest_names():
    dataset, run, generator, study = _external_study(manifest=None)
    trained = list(run.trained_images.order_by("pk"))
    generator.manifest_hashes = [image.sha256 for image in trained]
    generator.save()
    copy = _image(trained[3].pixels(), ImageKind.SYNTHETIC, generator=generator)
    study.images.add(copy)
    flagged = near_copy_pairs(study)
    assert [(pair["synthetic_id"], pair["training_id"]) for pair in flagged] == [
        (copy.pk, trained[3].pk)
    ]
    # Without a record there is nothing to compare with: the report says unknown instead.
    generator.manifest_hashes = None
    generator.save()
    assert near_copy_pairs(study) == []


def test_a_run_and_an_external_generator_in_one_study_are_each_checked_by_their_record():
    dataset, run, generator, study = _external_study(manifest=None)
    study.images.add(*run.images.all())
    trained = run.trained_images.first()
    study.images.add(trained)
    problems = study_problems(study)
    assert any("of run “cpu-demo demo”" in p and f"#{trained.pk}" in p for p in problems)
    assert not any("stylegan-home" in p for p in problems)
    assert {item["generator"]: item["held_out"] for item in held_out_status(study)} == {
        "cpu-demo demo": "checked",
        "stylegan-home": "unknown",
    }
