"""The study builder: balanced across generators, held-out reals only, seeded; its command."""

import io
import re

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from quiz.management.commands.create_study import Command
from quiz.models import Generator, ImageKind, Study
from quiz.studies.builder import BuildError, create_study, plan_study
from tests.study_sources import World, make_image

pytestmark = pytest.mark.django_db


@pytest.fixture
def world() -> World:
    return World()


def _ids(images) -> list[int]:
    return [image.pk for image in images]


def test_the_plan_is_balanced_across_two_generators_and_the_most_each_can_give(world):
    plan = plan_study(world.dataset, world.generators)

    assert plan.problems == []
    # The external generator has 8 usable images, so each gives 8: the run's other 2 not drawn.
    assert plan.per_generator == 8
    assert len(plan.synthetic[world.fastgan.pk]) == 8
    assert len(plan.synthetic[world.external.pk]) == 8
    assert all(i.generator_id == world.fastgan.pk for i in plan.synthetic[world.fastgan.pk])
    assert plan.not_drawn["FastGAN 1"] == 2
    assert any("“StyleGAN elsewhere” has 8 usable" in note for note in plan.notes)
    # 12 held out less the 3 that a chosen generator trained on: 9, fewer than 16 synthetic.
    assert sorted(_ids(plan.real)) == sorted(_ids(world.held_out[3:]))
    assert any("9 real image(s), all the usable held-out ones" in n for n in plan.notes)


def test_the_plan_refuses_training_and_unusable_images_and_names_why(world):
    plan = plan_study(world.dataset, world.generators, per_generator=5)
    why = {refusal.image_id: "; ".join(refusal.reasons) for refusal in plan.refused}

    assert why[world.held_out[0].pk] == "was in the training set of run “FastGAN 1”"
    assert why[world.held_out[1].pk] == "was in the training set of generator “StyleGAN elsewhere”"
    # named by its source frame's hash: the manifest names the scan whatever its crop
    assert why[world.held_out[2].pk] == "was in the training set of generator “StyleGAN elsewhere”"
    for image in world.train:
        assert "in the dataset's train part" in why[image.pk]
        assert "was in the training set of run “FastGAN 1”" in why[image.pk]
    assert why[world.excluded.pk] == "excluded by staff"
    assert why[world.flagged.pk] == "flagged and not accepted (colour Doppler overlay)"
    chosen = set(_ids(plan.images))
    assert not chosen & set(why)
    text = "\n".join(plan.lines())
    assert f"real #{world.held_out[0].pk} held out · held0.png: was in the training" in text


def test_the_same_seed_draws_the_same_study_and_another_seed_another(world):
    first = plan_study(world.dataset, world.generators, real_count=5, per_generator=5, seed=3)
    again = plan_study(world.dataset, world.generators, real_count=5, per_generator=5, seed=3)
    other = plan_study(world.dataset, world.generators, real_count=5, per_generator=5, seed=4)

    assert _ids(first.images) == _ids(again.images)
    assert first.fingerprint == again.fingerprint
    assert _ids(first.images) != _ids(other.images)
    assert len(first.real) == 5 and first.per_generator == 5


def test_asking_more_of_a_generator_than_it_has_is_refused_never_lowered(world):
    plan = plan_study(world.dataset, world.generators, per_generator=9)

    assert plan.problems == [
        "Not enough images: generator “StyleGAN elsewhere” has 8 usable image(s), fewer than "
        "the 9 asked for each generator (every generator gives the same number, so ask for at "
        "most 8)."
    ]
    with pytest.raises(BuildError, match="StyleGAN elsewhere"):
        create_study(plan, name="Too many", slug="too-many", layout="grid")
    assert not Study.objects.exists()


def test_asking_more_real_images_than_are_held_out_is_refused(world):
    plan = plan_study(world.dataset, world.generators, real_count=10, per_generator=5)
    assert plan.problems == [
        "Not enough images: muscle has 9 usable held-out real image(s) that no chosen generator "
        "trained on, fewer than the 10 asked for."
    ]


def test_a_generator_without_a_manifest_is_noted_and_a_run_without_a_record_refused(world):
    unknown = Generator.objects.create(name="no manifest")
    for _ in range(8):
        make_image(ImageKind.SYNTHETIC, generator=unknown)
    plan = plan_study(world.dataset, [world.fastgan, unknown])
    assert plan.problems == []
    assert any("“no manifest” came without a training manifest" in n for n in plan.notes)
    # Without a manifest nothing is known to be trained on: held-out #1 and #2 are eligible.
    assert world.held_out[1] in plan.real

    world.run.trained_images.clear()
    plan = plan_study(world.dataset, [world.fastgan])
    assert any("has no record of the images it trained on" in p for p in plan.problems)


def test_creating_a_study_takes_the_plan_and_a_panel_size_that_upsamples_nothing(db):
    world = World(size=24)  # synthetic images at 24 px beside 32 px real ones
    plan = plan_study(world.dataset, world.generators, real_count=6, per_generator=4)
    study = create_study(plan, name="Two GANs", slug="two-gans", layout="single")

    assert set(study.images.all()) == set(plan.images)
    assert study.images.count() == 6 + 2 * 4
    assert study.panel_size == 24
    assert study.layout == "single" and not study.is_published
    with pytest.raises(BuildError, match="exists already"):
        create_study(plan, name="Again", slug="two-gans", layout="grid")


def test_bad_arguments_raise_a_build_error(world):
    with pytest.raises(BuildError, match="at least one generator"):
        plan_study(world.dataset, [])
    with pytest.raises(BuildError, match="at least 1"):
        plan_study(world.dataset, world.generators, per_generator=0)
    with pytest.raises(BuildError, match="named once"):
        plan_study(world.dataset, [world.fastgan, world.fastgan])


# The command.


def _create(*args: str) -> str:
    out = io.StringIO()
    call_command("create_study", *args, stdout=out)
    return out.getvalue()


def test_the_command_creates_the_study_and_names_each_refused_image(world):
    out = _create(
        "--name", "Two GANs", "--slug", "two-gans", "--real", "muscle",
        "--generator", "FastGAN 1", "--generator", "StyleGAN elsewhere",
        "--real-count", "8", "--per-generator", "6", "--seed", "1",
    )  # fmt: skip

    study = Study.objects.get(slug="two-gans")
    assert study.images.filter(kind=ImageKind.REAL).count() == 8
    assert study.images.filter(generator=world.fastgan).count() == 6
    assert study.images.filter(generator=world.external).count() == 6
    assert "Refused 9 image(s):" in out
    assert (
        f"real #{world.held_out[0].pk} held out · held0.png: "
        "was in the training set of run “FastGAN 1”" in out
    )
    assert f"real #{world.excluded.pk} in no part of the split · excluded.png: excluded" in out
    assert "Created study “Two GANs” (/quiz/two-gans/)" in out
    for image in study.images.all():
        assert f"#{image.pk} " in out  # each chosen image is printed


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--real", "nope", "--generator", "FastGAN 1"], "No dataset named 'nope'"),
        (["--real", "muscle", "--generator", "nope"], "No generator named 'nope' (generators: "),
        (
            ["--real", "muscle", "--generator", "FastGAN 1", "--per-generator", "11"],
            "generator “FastGAN 1” has 10 usable image(s), fewer than the 11",
        ),
        (["--real", "muscle", "--generator", "FastGAN 1", "--real-count", "0"], "at least 1"),
        (
            ["--real", "muscle", "--generator", "FastGAN 1", "--generator", "FastGAN 1"],
            "named once",
        ),
    ],
)
def test_bad_arguments_exit_2_with_a_clear_error_and_create_nothing(world, args, message):
    with pytest.raises(CommandError, match=re.escape(message)) as failed:
        _create("--name", "X", "--slug", "x", *args)
    assert failed.value.returncode == 2
    assert not Study.objects.exists()


def test_a_bad_slug_and_a_taken_slug_exit_2(world):
    with pytest.raises(CommandError, match="--slug 'a b'") as failed:
        _create("--name", "X", "--slug", "a b", "--real", "muscle", "--generator", "FastGAN 1")
    assert failed.value.returncode == 2
    Study.objects.create(name="Taken", slug="taken")
    with pytest.raises(CommandError, match="slug “taken” exists already") as failed:
        _create("--name", "X", "--slug", "taken", "--real", "muscle", "--generator", "FastGAN 1")
    assert failed.value.returncode == 2


def test_from_the_command_line_a_bad_argument_is_one_line_and_exit_2(world, capsys):
    """As manage.py runs it: the error on stderr, no traceback, a non-zero exit status."""
    argv = ["manage.py", "create_study", "--skip-checks", "--name", "X", "--slug", "x"]
    with pytest.raises(SystemExit) as exited:
        Command().run_from_argv([*argv, "--real", "nope", "--generator", "FastGAN 1"])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("CommandError: No dataset named 'nope' (datasets: muscle).")
    assert "Traceback" not in err


@pytest.mark.full_audit
@pytest.mark.django_db(transaction=True)
def test_publish_runs_the_publish_audit_and_publishes_a_study_that_passes():
    # The audit's full crawl: a shorter one leaves the classifier's interval too wide to pass.
    world = World(run_images=9)
    out = _create(
        "--name", "Published", "--slug", "published", "--real", "muscle",
        "--generator", "FastGAN 1", "--publish",
    )  # fmt: skip

    study = Study.objects.get(slug="published")
    audit = study.audits.get()  # the audit_leaks path: rules, panels, crawl, classifier
    assert audit.publish_on_pass and audit.passed, audit.report.get("problems")
    assert study.is_published
    assert study.panels.count() == 9 + 9
    assert "Leak audit of Published: PASS" in out
    assert world.run.generator == world.fastgan
