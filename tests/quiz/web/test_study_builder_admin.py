"""The admin's study builder screen, the image list's way into it, and the study page's pickers."""

import pytest
from django.urls import reverse

from quiz.models import ImageKind, LeakAudit, Split, Study
from quiz.studies.builder import image_label
from tests.study_sources import World

pytestmark = pytest.mark.django_db

BUILD = reverse("admin:quiz_study_build")


@pytest.fixture
def world() -> World:
    return World()


def _form(world: World, **fields) -> dict:
    return {
        "name": "Two GANs",
        "slug": "",
        "real": world.dataset.pk,
        "generators": [g.pk for g in world.generators],
        "real_count": "",
        "per_generator": "",
        "layout": "grid",
        "seed": "0",
        "fingerprint": "",
        **fields,
    }


def test_the_study_list_links_to_the_builder(admin_client):
    page = admin_client.get(reverse("admin:quiz_study_changelist")).content.decode()
    assert f'href="{BUILD}"' in page and "Build a study" in page


def test_a_preview_shows_the_plan_and_creating_makes_that_study(admin_client, world):
    preview = admin_client.post(BUILD, {**_form(world, per_generator="5"), "preview": "1"})

    assert preview.status_code == 200
    page = preview.content.decode()
    plan = preview.context["plan"]
    assert plan.per_generator == 5 and len(plan.real) == 9
    assert (
        f"real #{world.held_out[0].pk} held out · held0.png: "
        "was in the training set of run “FastGAN 1”" in (page)
    )
    assert f"real #{world.flagged.pk} in no part of the split · doppler.png: flagged" in page
    assert 'name="create"' in page
    assert not Study.objects.exists()  # a preview creates nothing

    fingerprint = preview.context["form"]["fingerprint"].value()
    created = admin_client.post(
        BUILD, {**_form(world, per_generator="5"), "fingerprint": fingerprint, "create": "1"}
    )

    study = Study.objects.get(slug="two-gans")
    assert created.status_code == 302
    assert created["Location"] == reverse("admin:quiz_study_change", args=[study.pk])
    assert set(study.images.all()) == set(plan.images)
    assert study.images.filter(generator=world.external).count() == 5
    assert not LeakAudit.objects.exists()  # not asked to publish


def test_creating_with_publish_starts_the_publish_audit(admin_client, world, sent_tasks):
    preview = admin_client.post(BUILD, {**_form(world), "preview": "1"})
    fingerprint = preview.context["form"]["fingerprint"].value()
    admin_client.post(
        BUILD, {**_form(world), "fingerprint": fingerprint, "publish": "on", "create": "1"}
    )

    study = Study.objects.get()
    audit = LeakAudit.objects.get(study=study)
    assert audit.publish_on_pass and not study.is_published  # published by the audit if it passes


def test_creating_without_the_previewed_plan_shows_the_plan_again(admin_client, world):
    response = admin_client.post(BUILD, {**_form(world), "fingerprint": "stale", "create": "1"})

    assert response.status_code == 200
    assert not Study.objects.exists()
    assert "The images changed since the preview" in response.content.decode()
    # The plan shown now carries its own fingerprint: creating from it works.
    fingerprint = response.context["form"]["fingerprint"].value()
    admin_client.post(BUILD, {**_form(world), "fingerprint": fingerprint, "create": "1"})
    assert Study.objects.count() == 1


def test_a_plan_with_problems_names_them_and_offers_no_create(admin_client, world):
    response = admin_client.post(BUILD, {**_form(world, per_generator="9"), "create": "1"})

    page = response.content.decode()
    assert response.status_code == 200
    assert "generator “StyleGAN elsewhere” has 8 usable image(s), fewer than the 9" in page
    assert 'name="create"' not in page
    assert not Study.objects.exists()


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"generators": []}, "This field is required."),
        ({"generators": ["99999"]}, "Select a valid choice."),
        ({"per_generator": "0"}, "greater than or equal to 1"),
        ({"real": "nope"}, "Select a valid choice."),
        ({"slug": "a b"}, "Enter a valid “slug”"),
    ],
)
def test_a_malformed_form_is_answered_with_its_errors(admin_client, world, fields, error):
    response = admin_client.post(BUILD, {**_form(world, **fields), "preview": "1"})
    assert response.status_code == 200
    assert error in response.content.decode()
    assert not Study.objects.exists()


def test_a_taken_slug_is_refused_by_name(admin_client, world):
    Study.objects.create(name="Two GANs", slug="two-gans")
    response = admin_client.post(BUILD, {**_form(world), "preview": "1"})
    assert "A study with the slug “two-gans” exists already." in response.content.decode()


def test_the_builder_needs_staff(client, world):
    response = client.get(BUILD)
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_the_image_list_action_opens_the_builder_with_the_selection_chosen(admin_client, world):
    selected = [world.held_out[3].pk, *world.external.images.values_list("pk", flat=True)[:2]]
    response = admin_client.post(
        reverse("admin:quiz_image_changelist"),
        {"action": "create_study", "_selected_action": selected},
    )

    assert response.status_code == 302
    assert response["Location"] == f"{BUILD}?generators={world.external.pk}&real={world.dataset.pk}"
    form = admin_client.get(response["Location"]).context["form"]
    assert form["real"].value() == world.dataset.pk
    assert form["generators"].value() == [world.external.pk]
    assert not Study.objects.exists()  # the builder, not the selection, chooses the images


def test_pickers_label_split_and_generator_and_keep_training_images_out_of_practice_and_catch(
    admin_client, world
):
    study = Study.objects.create(name="S", slug="s")
    study.images.set([*world.held_out[3:], *world.fastgan.images.all()])
    response = admin_client.get(reverse("admin:quiz_study_change", args=[study.pk]))
    page = response.content.decode()
    fields = response.context["adminform"].form.fields

    synthetic = world.fastgan.images.order_by("pk").first()
    assert f"real #{world.held_out[3].pk} held out · held3.png" in page
    assert f"real #{world.train[0].pk} train · train0.png" in page  # the trials' picker has all
    assert f"synthetic #{synthetic.pk} · generator “FastGAN 1” step 60" in page
    external = world.external.images.order_by("pk").first()
    assert (
        image_label(external)
        == f"synthetic #{external.pk} · generator “StyleGAN elsewhere” fake0.png"
    )

    practice = set(fields["practice_images"].queryset)
    assert not {
        image
        for image in practice
        if image.kind == ImageKind.REAL and image.split != Split.HELD_OUT
    }
    assert not practice & set(world.train)
    assert world.held_out[0] not in practice  # held out now, but the study's run trained on it
    assert world.held_out[1] in practice  # the external generator is not in this study
    assert set(world.held_out[3:]) <= practice and synthetic in practice
    catch = set(fields["catch_images"].queryset)
    assert catch and all(image.kind == ImageKind.SYNTHETIC for image in catch)
    # The rendered practice picker has no option for a training image.
    practice_select = page.split('name="practice_images"')[1].split("</select>")[0]
    assert f'value="{world.train[0].pk}"' not in practice_select
    assert f'value="{world.held_out[0].pk}"' not in practice_select
    assert f'value="{world.held_out[3].pk}"' in practice_select


def test_a_study_with_the_external_generator_keeps_its_manifest_images_out_of_practice(
    admin_client, world
):
    study = Study.objects.create(name="S", slug="s")
    study.images.set(world.external.images.all())
    response = admin_client.get(reverse("admin:quiz_study_change", args=[study.pk]))
    practice = set(response.context["adminform"].form.fields["practice_images"].queryset)
    assert world.held_out[1] not in practice  # named in the manifest by its pixels
    assert world.held_out[2] not in practice  # by its source frame
    assert world.held_out[0] in practice  # only the run trained on it
