"""A dataset's train / held-out split: seeded, the share exact, redrawn on ingest and on edit."""

import io

import numpy as np
import pytest
from django.core.files.base import ContentFile
from django.urls import reverse
from PIL import Image as PILImage

from quiz.imaging import encode_png, pixel_sha256
from quiz.ingest.pipeline import ingest_into_dataset
from quiz.models import Dataset, Image, ImageKind, Split

pytestmark = pytest.mark.django_db


def _speckle(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(20, 230, (40, 48), dtype=np.uint8)


def _add_images(dataset: Dataset, seeds) -> None:
    for seed in seeds:
        pixels = _speckle(seed)
        Image.objects.create(
            kind=ImageKind.REAL,
            dataset=dataset,
            source_name=f"scan_{seed}.png",
            width=48,
            height=40,
            sha256=pixel_sha256(pixels),
            file=ContentFile(encode_png(pixels), name="x.png"),
        )


def _held_out(dataset: Dataset) -> set[str]:
    return set(dataset.images.filter(split=Split.HELD_OUT).values_list("sha256", flat=True))


def test_the_split_holds_out_exactly_the_share_and_leaves_the_rest_for_training():
    dataset = Dataset.objects.create(name="muscle", held_out_share=0.25)
    _add_images(dataset, range(20))
    dataset.apply_split()
    splits = list(dataset.images.values_list("split", flat=True))
    assert (splits.count(Split.HELD_OUT), splits.count(Split.TRAIN)) == (5, 15)


def test_the_split_is_the_same_on_every_call_and_whatever_the_upload_order():
    first = Dataset.objects.create(name="first")
    _add_images(first, range(20))
    reversed_order = Dataset.objects.create(name="reversed")
    _add_images(reversed_order, reversed(range(20)))
    first.apply_split()
    held_out = _held_out(first)
    first.apply_split()
    reversed_order.apply_split()
    assert _held_out(first) == held_out == _held_out(reversed_order)


def test_another_seed_draws_another_split():
    dataset = Dataset.objects.create(name="muscle")
    _add_images(dataset, range(20))
    dataset.apply_split()
    before = _held_out(dataset)
    dataset.split_seed = 1
    dataset.apply_split()
    assert _held_out(dataset) != before and len(_held_out(dataset)) == len(before)


def test_ingesting_into_a_dataset_splits_its_images():
    dataset = Dataset.objects.create(name="muscle")
    files = []
    for seed in range(8):
        buffer = io.BytesIO()
        PILImage.fromarray(_speckle(seed)).save(buffer, format="PNG")
        files.append((f"{seed}.png", buffer.getvalue()))
    ingest_into_dataset(dataset, files)
    splits = sorted(dataset.images.values_list("split", flat=True))
    assert splits == [Split.HELD_OUT] * 2 + [Split.TRAIN] * 6


def test_staff_see_the_split_and_editing_the_share_redraws_it(admin_client):
    dataset = Dataset.objects.create(name="muscle")
    _add_images(dataset, range(8))
    dataset.apply_split()
    listing = admin_client.get(reverse("admin:quiz_dataset_changelist")).content.decode()
    assert "Train / held out" in listing and "6 / 2" in listing

    url = reverse("admin:quiz_dataset_change", args=[dataset.pk])
    page = admin_client.get(url).content.decode()
    assert 'name="held_out_share" value="0.25"' in page and 'name="split_seed"' in page
    assert "publishing a study checks that record, not the current split" in page

    response = admin_client.post(
        url,
        {
            "name": "muscle",
            "profile": "ultrasound",
            "description": "",
            "held_out_share": "0.5",
            "split_seed": "0",
            "frames_per_file": "8",
            "ingest_jobs-TOTAL_FORMS": "0",
            "ingest_jobs-INITIAL_FORMS": "0",
        },
        follow=True,
    )
    assert "Split muscle: 4 train / 4 held out." in response.content.decode()
    assert len(_held_out(dataset)) == 4
