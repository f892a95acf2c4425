"""Image profiles: the generic profile keeps any 2-D image as a viewer shows it, in colour when it
has colour; the ultrasound profile keeps today's pipeline, with the source frame in colour."""

import io
import struct

import numpy as np
import pytest
from django.urls import reverse
from PIL import Image as PILImage
from PIL import ImageCms
from scipy import ndimage

from quiz.imaging import as_grey, decode_png
from quiz.ingest.crop_review import adjust_crop
from quiz.ingest.displayed import ALPHA_BACKGROUND
from quiz.ingest.near_duplicates import NEAR_DUPLICATE_DISTANCE, SignatureIndex, signature
from quiz.ingest.pipeline import ingest_into_dataset
from quiz.models import Dataset, Image, ImageProfile
from tests.quiz.ingest.test_bmode_check import doppler_overlay, real_bmode_frames

pytestmark = pytest.mark.django_db

HEIGHT, WIDTH = 96, 128


def _encoded(image: PILImage.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def _smooth(seed: int) -> np.ndarray:
    """A smooth grey picture (0..255): JPEG keeps it close, and it has a pattern to compare."""
    noise = np.random.default_rng(seed).standard_normal((HEIGHT, WIDTH))
    smooth = ndimage.gaussian_filter(noise, 6)
    smooth = (smooth - smooth.min()) / np.ptp(smooth)
    return (smooth * 255).astype(np.uint8)


def _colour(seed: int) -> np.ndarray:
    """Three different smooth channels: a picture whose colour is not a tint of one pattern."""
    return np.stack([_smooth(seed), _smooth(seed + 100), _smooth(seed + 200)], axis=2)


def _generic(name: str = "photos") -> Dataset:
    return Dataset.objects.create(name=name, profile=ImageProfile.GENERIC)


def _ingest(dataset: Dataset, files: dict[str, bytes]):
    report = ingest_into_dataset(dataset, list(files.items()))
    images = {image.source_name: image for image in dataset.images.all()}
    notes = {}
    for item in report.notes:
        notes.setdefault(item["file"], []).append(item["reason"])
    return report, images, notes


def test_colour_files_keep_their_colour_whole_and_unflagged():
    photo, cutout, printed, lossless = (_colour(seed) for seed in range(4))
    rgba = np.dstack([cutout, np.full((HEIGHT, WIDTH), 255, np.uint8)])
    rgba[:, : WIDTH // 2, 3] = 0  # the left half transparent
    files = {
        "photo.jpg": _encoded(PILImage.fromarray(photo), "JPEG", quality=95),
        "cutout.png": _encoded(PILImage.fromarray(rgba, "RGBA"), "PNG"),
        "print.jpg": _encoded(PILImage.fromarray(printed).convert("CMYK"), "JPEG", quality=95),
        "lossless.png": _encoded(PILImage.fromarray(lossless), "PNG"),
    }
    report, images, notes = _ingest(_generic(), files)
    assert report.imported == 4 and not report.rejections and not report.flagged
    for name, image in images.items():
        pixels = image.pixels()
        assert image.channels == 3, name
        assert pixels.shape == (HEIGHT, WIDTH, 3), name  # no field-of-view crop
        assert image.crop_box == [0, 0, WIDTH, HEIGHT] and image.panel_box is None
        assert image.source_pixels().shape == (HEIGHT, WIDTH, 3)
    assert np.array_equal(images["lossless.png"].pixels(), lossless)
    assert np.abs(images["photo.jpg"].pixels().astype(int) - photo).mean() < 3
    assert notes["photo.jpg"] == ["kept in colour"]
    # Transparency flattened on the stated background; the opaque half keeps its colour.
    flattened = images["cutout.png"].pixels()
    assert ALPHA_BACKGROUND == "white"
    assert (flattened[:, : WIDTH // 2] == 255).all()
    assert np.array_equal(flattened[:, WIDTH // 2 :], cutout[:, WIDTH // 2 :])
    assert notes["cutout.png"] == ["converted: transparency flattened on white; kept in colour"]
    # A CMYK file without an ICC profile comes back close to the RGB it was made from.
    assert np.abs(images["print.jpg"].pixels().astype(int) - printed).mean() < 6
    assert notes["print.jpg"] == [
        "converted: CMYK to RGB without an ICC profile (Pillow's plain conversion); kept in colour"
    ]


def _srgb_icc(*, swap_red_and_green: bool = False) -> bytes:
    """An sRGB ICC profile; swapped, one whose red and green primaries trade places, so that a
    file tagged with it shows its red channel's values as green and its green ones as red."""
    icc = bytearray(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
    if swap_red_and_green:
        (count,) = struct.unpack(">I", icc[128:132])
        entries = {bytes(icc[132 + 12 * i : 136 + 12 * i]): 132 + 12 * i for i in range(count)}
        red, green = entries[b"rXYZ"], entries[b"gXYZ"]
        icc[red + 4 : red + 12], icc[green + 4 : green + 12] = (
            icc[green + 4 : green + 12],
            icc[red + 4 : red + 12],
        )
    return bytes(icc)


def test_an_icc_profile_is_converted_to_srgb():
    colour = _colour(2)
    icc = _srgb_icc(swap_red_and_green=True)
    files = {"tagged.png": _encoded(PILImage.fromarray(colour), "PNG", icc_profile=icc)}
    _, images, notes = _ingest(_generic(), files)
    stored = images["tagged.png"].pixels()
    assert stored.shape == (HEIGHT, WIDTH, 3)
    assert np.abs(stored.astype(int) - colour[..., [1, 0, 2]]).max() <= 2
    (note,) = notes["tagged.png"]
    assert note.startswith("converted: RGB to sRGB through its ICC profile")
    assert note.endswith("; kept in colour")
    # An sRGB profile changes nothing, and the report says nothing was converted.
    files = {"srgb.png": _encoded(PILImage.fromarray(colour), "PNG", icc_profile=_srgb_icc())}
    _, images, notes = _ingest(_generic("srgb"), files)
    assert np.array_equal(images["srgb.png"].pixels(), colour)
    assert notes["srgb.png"] == ["kept in colour"]


def test_an_exif_rotated_jpeg_is_stored_upright():
    colour = _colour(3)
    colour[: HEIGHT // 3, : WIDTH // 3] = (255, 0, 0)  # a red corner, top left as stored
    exif = PILImage.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    files = {"phone.jpg": _encoded(PILImage.fromarray(colour), "JPEG", quality=95, exif=exif)}
    _, images, notes = _ingest(_generic(), files)
    stored = images["phone.jpg"].pixels()
    assert stored.shape == (WIDTH, HEIGHT, 3)
    upright = np.rot90(colour, k=-1)  # clockwise: the stored top-left corner is now top right
    assert np.abs(stored.astype(int) - upright).mean() < 3
    assert stored[: WIDTH // 4, -HEIGHT // 4 :, 0].mean() > 200
    assert notes["phone.jpg"] == [
        "converted: turned upright by its EXIF orientation 6; kept in colour"
    ]


def test_sixteen_bit_and_equal_channel_files_are_stored_grey():
    values = (_smooth(4).astype(np.uint16) * 200 + 1000).astype(np.uint16)
    equal = np.repeat(_smooth(5)[..., None], 3, axis=2)
    files = {
        "deep.png": _encoded(PILImage.fromarray(values), "PNG"),
        "grey-as-rgb.png": _encoded(PILImage.fromarray(equal), "PNG"),
    }
    _, images, notes = _ingest(_generic(), files)
    for name in files:
        assert images[name].channels == 1, name
        assert images[name].pixels().shape == (HEIGHT, WIDTH), name
    deep = images["deep.png"].pixels()
    assert deep.min() == 0 and deep.max() == 255  # windowed onto 0..255, as today
    assert notes["deep.png"] == ["16-bit windowed to its 0.5-99.5 percentile range", "grey"]
    assert np.array_equal(images["grey-as-rgb.png"].pixels(), equal[..., 0])
    assert notes["grey-as-rgb.png"] == ["grey"]


def test_images_that_differ_only_in_hue_are_not_near_duplicates():
    pattern = _smooth(6).astype(np.float64)
    reddish = np.stack([pattern, pattern * 0.3, pattern * 0.3], axis=2).astype(np.uint8)
    greenish = np.stack([pattern * 0.3, pattern, pattern * 0.3], axis=2).astype(np.uint8)
    # Their luminance is one pattern: grey, they would be the same image.
    grey_index = SignatureIndex([("reddish", signature(as_grey(reddish)))])
    assert grey_index.near_duplicate(signature(as_grey(greenish))) is not None
    brighter = np.clip(reddish.astype(int) + 20, 0, 255).astype(np.uint8)
    files = {
        "reddish.png": _encoded(PILImage.fromarray(reddish), "PNG"),
        "greenish.png": _encoded(PILImage.fromarray(greenish), "PNG"),
        "reddish-again.jpg": _encoded(PILImage.fromarray(brighter), "JPEG", quality=90),
    }
    report, images, _ = _ingest(_generic(), files)
    assert set(images) == {"reddish.png", "greenish.png"}
    assert report.duplicates == 1
    (skipped,) = report.skipped
    assert skipped["file"] == "reddish-again.jpg"
    assert skipped["reason"].startswith("near-duplicate of reddish.png")
    assert len(images["reddish.png"].signature) == 32 * 32 * 3


def test_grey_signatures_keep_their_size_and_never_match_colour_ones():
    grey = _smooth(7)
    index = SignatureIndex([("grey", signature(grey))])
    assert len(signature(grey)) == 32 * 32
    assert index.near_duplicate(signature(grey)).distance == pytest.approx(0, abs=1e-9)
    # The same picture in colour (grey in three equal channels) is another mode: not compared.
    assert index.near_duplicate(signature(np.repeat(grey[..., None], 3, axis=2))) is None
    noisy = np.clip(grey.astype(int) + np.random.default_rng(0).integers(-3, 4, grey.shape), 0, 255)
    match = index.near_duplicate(signature(noisy.astype(np.uint8)))
    assert match is not None and match.distance < NEAR_DUPLICATE_DISTANCE


def test_a_generic_images_new_crop_keeps_its_colour():
    colour = _colour(8)
    _, images, _ = _ingest(_generic(), {"photo.png": _encoded(PILImage.fromarray(colour), "PNG")})
    image = images["photo.png"]
    adjust_crop(image, (10, 20, 90, 80))
    image.refresh_from_db()
    assert image.channels == 3
    assert np.array_equal(image.pixels(), colour[20:80, 10:90])


def test_the_ultrasound_profile_flags_doppler_stores_grey_and_keeps_the_colour_source(
    admin_client,
):
    (frame,) = real_bmode_frames(1)
    tinted, _ = doppler_overlay(frame)
    dataset = Dataset.objects.create(name="scans")  # the default profile
    assert dataset.profile == ImageProfile.ULTRASOUND
    report, images, notes = _ingest(
        dataset, {"doppler.png": _encoded(PILImage.fromarray(tinted), "PNG")}
    )
    image = images["doppler.png"]
    assert "colour-flow" in [flag["code"] for flag in image.flags]
    assert report.flagged and report.flagged[0]["file"] == "doppler.png"
    # The stored image is grey, as before profiles; the source frame shows the overlay in colour.
    assert image.channels == 1 and image.pixels().ndim == 2
    source = image.source_pixels()
    assert np.array_equal(source, tinted)
    # The crop review shows staff that colour frame.
    page = admin_client.get(reverse("admin:quiz_dataset_crops", args=[dataset.pk]))
    source_url = reverse("quiz:staff_image_source", args=[image.pk])
    assert page.status_code == 200 and source_url in page.content.decode()
    served = admin_client.get(source_url)
    assert np.array_equal(decode_png(b"".join(served.streaming_content)), tinted)
    assert notes["doppler.png"] == [
        "colour frame stored in grey (ultrasound profile); its source frame keeps the colour "
        "for the crop review"
    ]
    # A new box re-crops the colour source into a grey image again.
    height, width = frame.shape
    box = (width // 8, height // 8, width - width // 8, height - height // 8)
    adjust_crop(image, box)
    image.refresh_from_db()
    assert image.channels == 1
    left, top, right, bottom = box
    assert np.array_equal(image.pixels(), as_grey(tinted)[top:bottom, left:right])
    # A grey scan gets no note about colour, as before.
    _, _, notes = _ingest(dataset, {"plain.png": _encoded(PILImage.fromarray(frame), "PNG")})
    assert "plain.png" not in notes
    assert Image.objects.get(source_name="plain.png").source_pixels().ndim == 2


def test_palette_and_grey_with_alpha_are_flattened_on_white_and_a_bad_icc_is_named():
    grey = _smooth(9)
    la = np.dstack(
        [
            grey,
            np.where(np.arange(WIDTH) < WIDTH // 4, 0, 255)
            .astype(np.uint8)[None]
            .repeat(HEIGHT, axis=0),
        ]
    )
    palette = PILImage.fromarray(_colour(10)).quantize(64)
    palette.info["transparency"] = 0  # palette entry 0 is transparent
    files = {
        "grey-alpha.png": _encoded(PILImage.fromarray(la, "LA"), "PNG"),
        "palette.png": _encoded(palette, "PNG", transparency=0),
        "bad-icc.png": _encoded(PILImage.fromarray(_colour(11)), "PNG", icc_profile=b"not icc"),
    }
    report, images, notes = _ingest(_generic(), files)
    assert report.imported == 3 and not report.rejections
    flattened = images["grey-alpha.png"].pixels()
    assert images["grey-alpha.png"].channels == 1
    assert (flattened[:, : WIDTH // 4] == 255).all()
    assert np.array_equal(flattened[:, WIDTH // 4 :], grey[:, WIDTH // 4 :])
    assert notes["grey-alpha.png"] == ["converted: transparency flattened on white; grey"]
    indices = np.asarray(palette)
    stored = images["palette.png"].pixels()
    assert (stored[indices == 0] == 255).all() and (indices == 0).any()
    assert notes["palette.png"] == ["converted: transparency flattened on white; kept in colour"]
    (note,) = notes["bad-icc.png"]
    assert note.startswith("converted: its ICC profile could not be used (")
    assert np.array_equal(images["bad-icc.png"].pixels(), _colour(11))


def test_a_colour_cine_loop_keeps_its_frames_in_colour():
    frames = [PILImage.fromarray(_colour(20 + index)) for index in range(3)]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="TIFF", save_all=True, append_images=frames[1:])
    _, images, _ = _ingest(_generic(), {"loop.tif": buffer.getvalue()})
    assert len(images) == 3
    for index in range(3):
        image = images[f"loop.tif [frame {index + 1} of 3]"]
        assert image.channels == 3
        assert np.array_equal(image.pixels(), _colour(20 + index))
