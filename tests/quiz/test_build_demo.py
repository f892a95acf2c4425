"""`make demo` keeps the rules of any study: its real panels are held out from its GAN."""

import io

import pytest
from django.core.management import call_command

from quiz.models import ImageKind, Split, Study, TrainingRun

# The demo runs its leak audit against a server thread, which must see committed rows.
pytestmark = pytest.mark.django_db(transaction=True)


def test_the_demo_study_shows_only_held_out_real_images_its_gan_never_saw(muscle_images):
    out = io.StringIO()
    call_command(
        "build_demo",
        train=True,
        preset="tiny",
        steps=2,
        images=40,
        synthetic=10,
        stdout=out,
        stderr=out,
    )
    study = Study.objects.get(slug="demo")
    run = TrainingRun.objects.get()
    real = study.images.filter(kind=ImageKind.REAL)
    assert study.is_published and study.panels.count() == study.images.count() == 20
    assert set(real.values_list("split", flat=True)) == {Split.HELD_OUT}
    assert run.trained_images.count() == 30
    assert not real.filter(trained_by=run).exists()

