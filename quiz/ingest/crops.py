"""A real image's crop: the one place its canonical PNG, field mask and identifying hashes are made.

Ingest (quiz.ingest.pipeline) and staff adjusting a crop (quiz.ingest.crop_review) both go through
`set_crop`, so the stored pixels, their SHA-256 and their near-duplicate signature can never
disagree.
"""

import numpy as np
from django.core.files.base import ContentFile

from quiz.imaging import channels_of, encode_png, pixel_sha256
from quiz.ingest.near_duplicates import signature
from quiz.models import Image

# The smallest side, in pixels, of an image or of the part of it that panels show.
MIN_SIDE = 32


def set_crop(
    image: Image,
    pixels: np.ndarray,
    box: tuple[int, int, int, int],
    *,
    mask: np.ndarray | None = None,
    shape: str = "rectangle",
    panel_box: tuple[int, int, int, int] | None = None,
) -> None:
    """Give `image` (not yet saved) these cropped pixels and the field they came from."""
    height, width = pixels.shape[:2]
    image.channels = channels_of(pixels)
    image.file = ContentFile(encode_png(pixels), name="x.png")
    image.field_mask = (
        ContentFile(encode_png(np.where(mask, 255, 0).astype(np.uint8)), name="x.png")
        if mask is not None
        else None
    )
    image.crop_box = [int(value) for value in box]
    image.field_shape = shape
    image.panel_box = [int(value) for value in panel_box] if panel_box is not None else None
    image.width, image.height = width, height
    image.sha256 = pixel_sha256(pixels)
    left, top, right, bottom = panel_box or (0, 0, width, height)
    image.signature = signature(pixels[top:bottom, left:right])


def delete_image_files(image: Image) -> None:
    """Delete the files of an image that was never saved (its row lost a race to a twin)."""
    for file in (image.file, image.source_file, image.field_mask, image.mask):
        if file and file.name and file.storage.exists(file.name):
            file.storage.delete(file.name)
