"""Staff review of crops: before and after on one page; accept, adjust (one image or a layout),
exclude; each change re-crops the stored source frame and redraws the split."""

import io

import numpy as np
import pytest
from django.urls import reverse
from PIL import Image as PILImage
from scipy import ndimage

from quiz.imaging import decode_png, pixel_sha256
from quiz.ingest.crop_review import CropError, adjust_crop, crop_counts
from quiz.ingest.pipeline import ingest_into_dataset
from quiz.models import CropOrigin, Dataset, Image, Review, Split, TrainingRun

pytestmark = pytest.mark.django_db


def _screen(seed: int, size: tuple[int, int] = (200, 260)) -> np.ndarray:
    """Speckle in a rectangle on a black screen: a layout every image of that size shares."""
    height, width = size
    screen = np.zeros((height, width), dtype=np.uint8)
    # Rayleigh-distributed echoes blurred over a few pixels, as a transducer's resolution does.
    echoes = np.random.default_rng(seed).rayleigh(45.0, (height - 40, width - 60))
    speckle = ndimage.gaussian_filter(echoes, 0.8) * 1.6 + 20
    screen[20 : height - 20, 30 : width - 30] = np.clip(speckle, 0, 255)
    return screen


def _png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    PILImage.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
def dataset() -> Dataset:
    dataset = Dataset.objects.create(name="muscle", held_out_share=0.5)
    files = [(f"scan{seed}.png", _png(_screen(seed))) for seed in range(3)]
    files.append(("other-layout.png", _png(_screen(7, (180, 240)))))
    report = ingest_into_dataset(dataset, files)
    assert report.imported == 4, report
    return dataset


def _stored(image: Image) -> np.ndarray:
    image.refresh_from_db()
    with image.file.open("rb") as handle:
        return decode_png(handle.read())


def _post(client, dataset: Dataset, image: Image, action: str, box=None):
    data = {"image": image.pk, "action": action}
    if box is not None:
        data.update(zip(("left", "top", "right", "bottom"), box, strict=True))
    url = reverse("admin:quiz_dataset_crops", args=[dataset.pk])
    return client.post(url, data, follow=True)


def test_the_review_page_shows_each_image_before_and_after_with_its_box(admin_client, dataset):
    response = admin_client.get(reverse("admin:quiz_dataset_crops", args=[dataset.pk]))
    assert response.status_code == 200
    page = response.content.decode()
    for image in dataset.images.all():
        assert reverse("quiz:staff_image_source", args=[image.pk]) in page
        assert reverse("quiz:staff_image", args=[image.pk]) in page
        assert f'data-box="{",".join(map(str, image.crop_box))}"' in page
    assert "4 automatic, 0 adjusted, 0 excluded" in page
    source = admin_client.get(reverse("quiz:staff_image_source", args=[image.pk]))
    assert decode_png(b"".join(source.streaming_content)).shape == (180, 240)


def test_an_adjusted_box_round_trips_and_changes_the_stored_png(admin_client, dataset):
    image = dataset.images.get(source_name="scan1.png")
    old_file, old_sha = image.file.name, image.sha256
    box = (40, 30, 200, 170)
    response = _post(admin_client, dataset, image, "adjust", box)
    assert f"cropped to {list(box)}" in response.content.decode()
    stored = _stored(image)
    assert np.array_equal(stored, _screen(1)[30:170, 40:200])
    assert (image.crop_box, image.crop_origin) == (list(box), CropOrigin.ADJUSTED)
    assert (image.width, image.height) == (160, 140)
    assert image.sha256 == pixel_sha256(stored) != old_sha
    assert not image.file.storage.exists(old_file)
    page = admin_client.get(reverse("admin:quiz_dataset_crops", args=[dataset.pk]))
    assert f'data-box="{",".join(map(str, box))}"' in page.content.decode()
    assert str(crop_counts(dataset)).startswith("3 automatic, 1 adjusted, 0 excluded")


def test_one_box_for_a_layout_re_crops_every_image_of_that_frame_size(admin_client, dataset):
    first = dataset.images.get(source_name="scan0.png")
    box = (35, 25, 225, 175)
    response = _post(admin_client, dataset, first, "adjust_geometry", box)
    assert "3 image(s) of the 260x200 layout" in response.content.decode()
    for seed in range(3):
        image = dataset.images.get(source_name=f"scan{seed}.png")
        assert np.array_equal(_stored(image), _screen(seed)[25:175, 35:225])
    untouched = dataset.images.get(source_name="other-layout.png")
    assert untouched.crop_origin == CropOrigin.AUTOMATIC


def test_a_box_outside_the_frame_or_too_small_is_refused_and_nothing_changes(admin_client, dataset):
    image = dataset.images.get(source_name="scan2.png")
    before = _stored(image)
    outside = _post(admin_client, dataset, image, "adjust", (0, 0, 400, 100)).content.decode()
    assert "does not lie inside its 260x200 source frame" in outside
    tiny = _post(admin_client, dataset, image, "adjust", (0, 0, 10, 10)).content.decode()
    assert "at least 32 pixels on each side" in tiny
    missing = _post(admin_client, dataset, image, "adjust").content.decode()
    assert "Give the box" in missing
    assert np.array_equal(_stored(image), before)


def test_the_crop_of_an_image_a_run_trained_on_cannot_change(dataset):
    image = dataset.images.get(source_name="scan0.png")
    TrainingRun.objects.create(dataset=dataset, name="run").trained_images.add(image)
    with pytest.raises(CropError, match="trained on by a run"):
        adjust_crop(image, (40, 30, 200, 170))


def test_excluding_takes_an_image_out_of_both_parts_and_accepting_brings_it_back(
    admin_client, dataset
):
    image = dataset.images.get(source_name="scan0.png")
    _post(admin_client, dataset, image, "exclude")
    image.refresh_from_db()
    assert (image.review, image.split) == (Review.EXCLUDED, "")
    assert "1 excluded" in str(crop_counts(dataset))
    _post(admin_client, dataset, image, "accept")
    image.refresh_from_db()
    assert image.review == Review.ACCEPTED and image.split in {Split.TRAIN, Split.HELD_OUT}


def test_accepting_a_flagged_image_lets_it_into_the_split(admin_client, dataset):
    image = dataset.images.get(source_name="scan2.png")
    image.flags = [{"code": "colour-flow", "reason": "saturated colour in 12% of the field"}]
    image.save()
    dataset.apply_split()
    image.refresh_from_db()
    assert image.split == ""
    page = admin_client.get(
        reverse("admin:quiz_dataset_crops", args=[dataset.pk]) + "?show=flagged"
    )
    assert "saturated colour in 12% of the field" in page.content.decode()
    assert page.content.decode().count('class="crop-card"') == 1
    _post(admin_client, dataset, image, "accept")
    image.refresh_from_db()
    assert image.split in {Split.TRAIN, Split.HELD_OUT}


def test_an_image_of_another_dataset_cannot_be_changed_from_this_page(admin_client, dataset):
    other = Dataset.objects.create(name="other")
    ingest_into_dataset(other, [("x.png", _png(_screen(11)))])
    stranger = other.images.get()
    response = _post(admin_client, dataset, stranger, "exclude").content.decode()
    assert "no such image in this dataset" in response
    stranger.refresh_from_db()
    assert stranger.review == Review.PENDING
