"""Staff review of ingest's crops: accept, exclude, or give an image (or a layout) a new box.

Every change redraws the dataset's split, so an excluded image, or a flagged one that staff
have not accepted, leaves both parts at once (Image.is_usable). A new box re-crops the stored
source frame through the same `quiz.ingest.crops.set_crop` as ingest, so the canonical PNG, its hash
and its near-duplicate signature stay one thing. The source frame keeps the file's colour; the
new crop is stored as the dataset's profile stores images (grey for ultrasound).
"""

from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import Count, Q, QuerySet

from quiz.ingest.crops import MIN_SIDE, set_crop
from quiz.ingest.profiles import profile_of
from quiz.models import CropOrigin, Dataset, Image, ImageKind, Review, StudyPanel


class CropError(Exception):
    """A change staff asked for cannot be made; the message says why and names the image."""


@dataclass(frozen=True)
class CropCounts:
    automatic: int
    adjusted: int
    excluded: int
    awaiting_review: int  # flagged, neither accepted nor excluded

    def __str__(self) -> str:
        return (
            f"{self.automatic} automatic, {self.adjusted} adjusted, {self.excluded} excluded; "
            f"{self.awaiting_review} flagged awaiting review"
        )


def crop_counts(dataset: Dataset) -> CropCounts:
    real = dataset.images.filter(kind=ImageKind.REAL)
    counts = real.aggregate(
        automatic=Count("pk", filter=Q(crop_origin=CropOrigin.AUTOMATIC)),
        adjusted=Count("pk", filter=Q(crop_origin=CropOrigin.ADJUSTED)),
        excluded=Count("pk", filter=Q(review=Review.EXCLUDED)),
        pending=Count("pk", filter=Q(review=Review.PENDING) & ~Q(flags=[])),
    )
    return CropCounts(
        counts["automatic"], counts["adjusted"], counts["excluded"], counts["pending"]
    )


def set_review(images: QuerySet[Image], review: str) -> int:
    """Accept or exclude these images (or return them to unreviewed); returns how many."""
    datasets = set(images.values_list("dataset_id", flat=True))
    changed = images.update(review=review)
    for dataset in Dataset.objects.filter(pk__in=datasets):
        dataset.apply_split()
    return changed


def same_geometry(image: Image) -> QuerySet[Image]:
    """The real images of the image's dataset whose source frames have its size."""
    return Image.objects.filter(
        dataset_id=image.dataset_id,
        kind=ImageKind.REAL,
        source_width=image.source_width,
        source_height=image.source_height,
    ).exclude(source_file="")


def adjust_crop(image: Image, box: tuple[int, int, int, int]) -> None:
    """Re-crop the image's source frame to `box` (left, top, right, bottom), a plain rectangle.

    Refused for an image that a run trained on or a study shows: its generator's record and the
    study's rendered panels hold the old pixels, and a changed image would no longer match them.
    """
    _recrop(image, box)
    image.dataset.apply_split()  # the rank follows the pixels, which have changed


def adjust_geometry(image: Image, box: tuple[int, int, int, int]) -> tuple[int, list[str]]:
    """Give every image of the image's source geometry the box; (how many, why others not)."""
    changed, problems = 0, []
    for other in same_geometry(image).order_by("pk"):
        try:
            _recrop(other, box)
        except CropError as exc:
            problems.append(str(exc))
        else:
            changed += 1
    image.dataset.apply_split()  # once for the whole layout
    return changed, problems


def _recrop(image: Image, box: tuple[int, int, int, int]) -> None:
    _check_adjustable(image, box)
    old_files = [file.name for file in (image.file, image.field_mask) if file]
    left, top, right, bottom = box
    source = profile_of(image.dataset).stored_pixels(image.source_pixels())
    pixels = source[top:bottom, left:right].copy()
    set_crop(image, pixels, box)
    image.crop_origin = CropOrigin.ADJUSTED
    try:
        with transaction.atomic():
            image.save()
    except IntegrityError:
        image.file.storage.delete(image.file.name)
        raise CropError(
            f"Image #{image.pk} ({image.source_name}): with that box it has the same pixels as "
            "another image of the dataset."
        ) from None
    for name in old_files:
        image.file.storage.delete(name)


def _check_adjustable(image: Image, box: tuple[int, int, int, int]) -> None:
    name = f"Image #{image.pk} ({image.source_name})"
    if image.kind != ImageKind.REAL or not image.source_file:
        raise CropError(f"{name} has no stored source frame to crop again.")
    left, top, right, bottom = box
    width, height = image.source_width, image.source_height
    if not (0 <= left < right <= width and 0 <= top < bottom <= height):
        raise CropError(
            f"{name}: the box {list(box)} does not lie inside its {width}x{height} source frame."
        )
    if min(right - left, bottom - top) < MIN_SIDE:
        raise CropError(f"{name}: the box must be at least {MIN_SIDE} pixels on each side.")
    if image.trained_by.exists():
        raise CropError(
            f"{name} was trained on by a run; its crop is part of that run's record and cannot "
            "change."
        )
    in_study = image.studies.exists() or image.practice_in.exists() or image.catch_in.exists()
    if in_study or StudyPanel.objects.filter(image=image).exists():
        raise CropError(f"{name} is in a study; remove it from the study first.")
