"""The admin's dataset form offers the image profile, and refuses to change it under images."""

import pytest
from django.urls import reverse

from quiz.models import Dataset, Image, ImageKind, ImageProfile
from tests.admin_forms import dataset_form

pytestmark = pytest.mark.django_db


def test_the_add_form_offers_both_profiles_and_stores_the_choice(admin_client):
    page = admin_client.get(reverse("admin:quiz_dataset_add")).content.decode()
    assert 'name="profile"' in page
    for profile in ImageProfile:
        assert f'value="{profile.value}"' in page
    response = admin_client.post(
        reverse("admin:quiz_dataset_add"), dataset_form("faces", profile="generic")
    )
    assert response.status_code == 302
    assert Dataset.objects.get(name="faces").profile == ImageProfile.GENERIC


def test_the_profile_of_a_dataset_with_images_cannot_change(admin_client):
    dataset = Dataset.objects.create(name="scans")
    url = reverse("admin:quiz_dataset_change", args=[dataset.pk])
    # Empty, the dataset may still change its mind.
    response = admin_client.post(url, dataset_form("scans", profile="generic"))
    assert response.status_code == 302
    dataset.refresh_from_db()
    assert dataset.profile == ImageProfile.GENERIC
    Image.objects.create(
        kind=ImageKind.REAL, dataset=dataset, width=8, height=8, sha256="a" * 64, file="x.png"
    )
    response = admin_client.post(url, dataset_form("scans", profile="ultrasound"))
    assert response.status_code == 200
    page = response.content.decode()
    assert "already holds 1 image(s) ingested with the generic profile" in page
    assert "Create a new dataset with the other profile" in page
    dataset.refresh_from_db()
    assert dataset.profile == ImageProfile.GENERIC
    # Other changes to it still save.
    response = admin_client.post(url, dataset_form("scans", profile="generic", description="faces"))
    assert response.status_code == 302
    dataset.refresh_from_db()
    assert dataset.description == "faces"
