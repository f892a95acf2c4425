"""quiz.ingest.decoding: one file's bytes to uint8 frames, on real files where there are any.

Real DICOMs come from the test files that the pydicom wheel ships (looked up without downloading;
a test skips when its file is absent), real ultrasound from ../shared/data; the rest are planted
here with pydicom and Pillow so that the expected pixels are known exactly.
"""

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pydicom
import pytest
from PIL import Image as PILImage
from pydicom.data import get_testdata_file
from pydicom.encaps import encapsulate, generate_frames
from pydicom.pixels import apply_modality_lut, apply_voi_lut, convert_color_space, get_decoder
from pydicom.uid import (
    JPEG2000,
    MPEG2MPML,
    UID,
    JPEG2000Lossless,
    JPEGLosslessSV1,
    JPEGLSLossless,
    RLELossless,
)

from quiz.ingest import decoding
from quiz.ingest.decoding import DecodedFile, Rejected, decode_file
from tests.dicoms import dicom_bytes, native_dataset

SHARED_DATA = Path(__file__).resolve().parents[3].parent / "shared" / "data"
MUSCLE_US = SHARED_DATA / "muscle-us" / "images"


def _testdata(name: str) -> bytes:
    path = get_testdata_file(name, download=False)  # never fetched: only what the wheel ships
    if path is None:
        pytest.skip(f"pydicom test file {name} is not installed")
    return Path(path).read_bytes()


def _decode_testdata(name: str, max_frames: int = 4) -> DecodedFile:
    return decode_file(_testdata(name), max_frames=max_frames)


def _anatomy(height: int = 96, width: int = 128, seed: int = 0) -> np.ndarray:
    """Speckle over bright horizontal bands (aponeuroses) on a dark field: 8-bit grey."""
    rng = np.random.default_rng(seed)
    rows = np.arange(height)[:, None]
    bands = 60 + 120 * (np.abs(((rows * 7) % 40) - 20) < 4)
    speckle = rng.gamma(2.0, 0.5, (height, width))
    return np.clip(bands * speckle, 0, 255).astype(np.uint8)


def _real_scan() -> np.ndarray:
    if not MUSCLE_US.is_dir():
        pytest.skip(f"real ultrasound not found at {MUSCLE_US} (../shared/data is absent)")
    path = sorted(MUSCLE_US.glob("*.png"))[0]
    return np.asarray(PILImage.open(path).convert("L"))


def _image(frames: list[np.ndarray] | np.ndarray, fmt: str, **options) -> bytes:
    frames = [frames] if isinstance(frames, np.ndarray) else frames
    images = [PILImage.fromarray(frame) for frame in frames]
    buffer = io.BytesIO()
    if len(images) > 1:
        options.update(save_all=True, append_images=images[1:])
    images[0].save(buffer, format=fmt, **options)
    return buffer.getvalue()


def _with_hot_pixel(pixels: np.ndarray) -> np.ndarray:
    hot = pixels.copy()
    hot[hot.shape[0] // 2, hot.shape[1] // 3] = np.iinfo(hot.dtype).max
    return hot


# Palette colour ---------------------------------------------------------------------------------


@pytest.mark.parametrize("entry_scale", [257, 1], ids=["16-bit entries", "8-bit entries in 16"])
def test_palette_ultrasound_shows_its_grey_anatomy_not_the_palette_indices(entry_scale):
    anatomy = _anatomy()
    # A scanner's grey palette in a scrambled order: index i shows grey level grey_of[i].
    grey_of = np.random.default_rng(5).permutation(256).astype(np.uint16)
    index_of = np.argsort(grey_of).astype(np.uint8)
    ds = native_dataset(index_of[anatomy], interpretation="PALETTE COLOR")
    lut = (grey_of * entry_scale).astype("<u2").tobytes()
    for colour in ("Red", "Green", "Blue"):
        setattr(ds, f"{colour}PaletteColorLookupTableDescriptor", [256, 0, 16])
        setattr(ds, f"{colour}PaletteColorLookupTableData", lut)

    decoded = decode_file(dicom_bytes(ds), max_frames=4)

    (frame,) = decoded.frames
    assert frame.dtype == np.uint8 and frame.shape == anatomy.shape  # grey palette: grey frame
    np.testing.assert_array_equal(frame, anatomy)
    assert not np.array_equal(frame, index_of[anatomy])
    assert decoded.modality == "US"
    assert any("palette" in note for note in decoded.notes)


def test_palette_colour_dicom_from_a_scanner_comes_back_in_colour():
    decoded = _decode_testdata("examples_palette.dcm")  # a Philips ultrasound screen, PALETTE COLOR

    (frame,) = decoded.frames
    assert frame.shape == (350, 800, 3) and frame.dtype == np.uint8
    red, blue = frame[..., 0].astype(int), frame[..., 2].astype(int)
    assert (blue - red > 40).mean() > 0.1  # the blue title bar survives as colour
    indices = pydicom.dcmread(io.BytesIO(_testdata("examples_palette.dcm"))).pixel_array
    assert not np.array_equal(frame[..., 0], indices)
    assert decoded.modality == "US"


def test_palette_ultrasound_built_from_a_real_scan_decodes_to_that_scan():
    scan = _real_scan()
    grey_of = np.random.default_rng(9).permutation(256).astype(np.uint16)
    index_of = np.argsort(grey_of).astype(np.uint8)
    ds = native_dataset(index_of[scan], interpretation="PALETTE COLOR")
    for colour in ("Red", "Green", "Blue"):
        setattr(ds, f"{colour}PaletteColorLookupTableDescriptor", [256, 0, 16])
        setattr(ds, f"{colour}PaletteColorLookupTableData", (grey_of * 257).astype("<u2").tobytes())

    (frame,) = decode_file(dicom_bytes(ds), max_frames=1).frames

    np.testing.assert_array_equal(frame, scan)


# Colour spaces ----------------------------------------------------------------------------------


def _colour_picture(height: int = 48, width: int = 64) -> np.ndarray:
    rows, cols = np.mgrid[0:height, 0:width]
    rgb = np.stack([rows * 255 // height, cols * 255 // width, 255 - cols * 255 // width], axis=2)
    return rgb.astype(np.uint8)


def test_native_ybr_full_comes_back_as_the_rgb_it_encodes_and_is_converted_once():
    rgb = _colour_picture()
    ybr = convert_color_space(rgb, "RGB", "YBR_FULL")
    ds = native_dataset(ybr, interpretation="YBR_FULL")

    (frame,) = decode_file(dicom_bytes(ds), max_frames=1).frames

    assert frame.shape == rgb.shape
    assert np.abs(frame.astype(int) - rgb).max() <= 2


def test_ybr_full_422_matches_the_rgb_reference_of_the_same_picture():
    (ybr,) = _decode_testdata("SC_ybr_full_422_uncompressed.dcm").frames
    (reference,) = _decode_testdata("SC_rgb_rle.dcm").frames  # lossless RGB of the same picture

    difference = np.abs(ybr.astype(int) - reference)
    assert difference.mean() < 2  # chroma subsampling only; converting twice is far off


@pytest.mark.parametrize(
    "name", ["SC_rgb_dcmtk_+eb+cy+n1.dcm", "SC_rgb_dcmtk_+eb+cy+np.dcm", "SC_rgb_jpeg_dcmtk.dcm"]
)
def test_ybr_jpeg_baseline_matches_the_rgb_reference(name):
    (frame,) = _decode_testdata(name).frames
    (reference,) = _decode_testdata("SC_rgb_rle.dcm").frames

    assert np.abs(frame.astype(int) - reference).mean() < 6  # lossy JPEG, but the right colours


def test_jpeg_2000_with_the_reversible_colour_transform_decodes_to_the_rgb_it_encodes():
    rgb = _colour_picture()
    ds = native_dataset(rgb, interpretation="RGB")
    ds.PhotometricInterpretation = "YBR_RCT"
    ds.compress(JPEG2000Lossless, rgb)

    (frame,) = decode_file(dicom_bytes(ds), max_frames=1).frames

    np.testing.assert_array_equal(frame, rgb)


def test_rgb_dicom_stays_rgb():
    decoded = _decode_testdata("examples_rgb_color.dcm")

    (frame,) = decoded.frames
    assert frame.shape == (240, 320, 3)
    assert not np.array_equal(frame[..., 0], frame[..., 2])
    assert decoded.modality == "US"


# Multi-frame ------------------------------------------------------------------------------------


def _cine(frames: int, height: int = 40, width: int = 48) -> np.ndarray:
    """A cine loop whose frame k has k in its top-left pixel (and speckle elsewhere)."""
    loop = np.stack([_anatomy(height, width, seed=k) for k in range(frames)])
    loop[:, 0, 0] = np.arange(frames)
    return loop


def _frame_numbers(decoded: DecodedFile) -> list[int]:
    return [int(frame[0, 0]) for frame in decoded.frames]


def test_multi_frame_ultrasound_gives_max_frames_evenly_spaced_first_and_last_included():
    loop = _cine(120)

    decoded = decode_file(dicom_bytes(native_dataset(loop, frames=120)), max_frames=4)

    numbers = _frame_numbers(decoded)
    assert len(numbers) == 4 and numbers[0] == 0 and numbers[-1] == 119
    gaps = np.diff(numbers)
    assert gaps.min() >= 39 and gaps.max() <= 40
    for number, frame in zip(numbers, decoded.frames, strict=True):
        np.testing.assert_array_equal(frame, loop[number])
    assert decoded.total_frames == 120
    assert "kept 4 of 120 frames (evenly spaced)" in decoded.notes
    assert decoded.modality == "US"


def test_a_short_loop_keeps_every_frame():
    decoded = decode_file(dicom_bytes(native_dataset(_cine(3), frames=3)), max_frames=8)

    assert _frame_numbers(decoded) == [0, 1, 2]
    assert decoded.total_frames == 3


def test_only_the_kept_frames_of_a_compressed_loop_are_decoded():
    loop = _cine(5)
    ds = native_dataset(loop, frames=5)
    ds.compress(RLELossless, loop)
    fragments = list(generate_frames(ds.PixelData, number_of_frames=5))
    fragments[2] = b"\x00" * 8  # a damaged frame the evenly spaced pick does not reach
    ds.PixelData = encapsulate(fragments)

    decoded = decode_file(dicom_bytes(ds), max_frames=2)

    assert _frame_numbers(decoded) == [0, 4]
    with pytest.raises(Rejected, match="RLE Lossless"):
        decode_file(dicom_bytes(ds), max_frames=5)


def test_the_kept_frames_of_one_file_stay_under_the_pixel_limit(monkeypatch):
    monkeypatch.setattr(decoding, "MAX_PIXELS", 3 * 40 * 48)

    decoded = decode_file(dicom_bytes(native_dataset(_cine(20), frames=20)), max_frames=10)

    assert _frame_numbers(decoded) == [0, 10, 19]  # round(9.5) is 10: Python rounds half to even
    assert decoded.total_frames == 20


def test_multi_frame_ybr_jpeg_ultrasound_from_a_scanner():
    decoded = _decode_testdata("examples_ybr_color.dcm", max_frames=4)  # 30 frames, YBR_FULL_422

    assert decoded.total_frames == 30 and len(decoded.frames) == 4
    assert all(frame.shape == (240, 320, 3) for frame in decoded.frames)
    assert not np.array_equal(decoded.frames[0], decoded.frames[-1])  # the heart moved
    assert decoded.modality == "US"


# Compressed transfer syntaxes -------------------------------------------------------------------


@pytest.mark.parametrize(
    "syntax", [JPEGLosslessSV1, JPEGLSLossless, JPEG2000Lossless, JPEG2000, RLELossless]
)
def test_the_registry_decoders_are_installed_for_pydicom(syntax):
    # pylibjpeg and its libjpeg, openjpeg and rle plugins come from requirements.txt.
    assert "pylibjpeg" in get_decoder(syntax).available_plugins


@pytest.mark.parametrize(
    "name",
    ["MR_small_RLE.dcm", "MR_small_jpeg_ls_lossless.dcm", "MR_small_jp2klossless.dcm"],
    ids=["RLE", "JPEG-LS lossless", "JPEG 2000 lossless"],
)
def test_lossless_syntaxes_decode_to_the_uncompressed_pixels(name):
    (reference,) = _decode_testdata("MR_small.dcm").frames
    decoded = _decode_testdata(name)

    np.testing.assert_array_equal(decoded.frames[0], reference)
    assert decoded.modality == "MR"


def test_jpeg_lossless_decodes_to_the_uncompressed_pixels():
    (frame,) = _decode_testdata("SC_rgb_jpeg_gdcm.dcm").frames  # JPEG Lossless, SV1
    (reference,) = _decode_testdata("SC_rgb_rle.dcm").frames

    np.testing.assert_array_equal(frame, reference)


@pytest.mark.parametrize(
    ("name", "modality"),
    [("JPEG2000.dcm", "NM"), ("JPGExtended.dcm", "NM"), ("693_J2KI.dcm", "CT")],
)
def test_lossy_syntaxes_decode_to_an_image_with_contrast(name, modality):
    decoded = _decode_testdata(name)

    (frame,) = decoded.frames
    assert frame.dtype == np.uint8 and frame.std() > 20
    assert decoded.modality == modality


def test_a_syntax_without_a_decoder_is_rejected_by_name():
    ds = native_dataset(_anatomy())
    ds.file_meta.TransferSyntaxUID = MPEG2MPML
    ds.PixelData = encapsulate([b"\x00\x00\x01\xb3 not really MPEG"])

    with pytest.raises(Rejected, match="MPEG2") as rejected:
        decode_file(dicom_bytes(ds), max_frames=1)
    assert "cannot be decoded" in str(rejected.value)


def test_an_unknown_syntax_is_rejected_naming_its_uid():
    ds = native_dataset(_anatomy())
    ds.file_meta.TransferSyntaxUID = UID("1.2.3.4.5.6")
    buffer = io.BytesIO()
    ds.save_as(buffer, implicit_vr=False, little_endian=True, enforce_file_format=True)

    with pytest.raises(Rejected, match="'1.2.3.4.5.6'"):
        decode_file(buffer.getvalue(), max_frames=1)


def test_compressed_data_the_decoders_cannot_read_is_rejected_naming_the_syntax():
    with pytest.raises(Rejected, match="JPEG Extended"):
        _decode_testdata("JPEG-lossy.dcm")  # needs GDCM, which is not installed


# Grey levels: windows, MONOCHROME1, more than 8 bits ---------------------------------------------


def test_a_12_bit_ultrasound_uses_its_window():
    values = np.tile(np.linspace(0, 4095, 128), (32, 1)).astype(np.uint16)
    ds = native_dataset(values, bits_stored=12)
    ds.WindowCenter, ds.WindowWidth = 1000, 400

    decoded = decode_file(dicom_bytes(ds), max_frames=1)

    (frame,) = decoded.frames
    row = frame[0].astype(int)
    assert (row[values[0] <= 790] == 0).all() and (row[values[0] >= 1210] == 255).all()
    middle = np.argmin(np.abs(values[0].astype(int) - 1000))
    assert abs(row[middle] - 128) <= 4
    assert "DICOM VOI window applied" in decoded.notes


@pytest.mark.parametrize("name", ["MR_small.dcm", "693_J2KI.dcm", "examples_overlay.dcm"])
def test_a_real_files_window_matches_pydicoms_voi_pipeline(name):
    ds = pydicom.dcmread(io.BytesIO(_testdata(name)))
    values = apply_voi_lut(apply_modality_lut(ds.pixel_array, ds), ds)
    # pydicom windows onto the range the stored bits (rescaled) can hold; scale that to 0..255.
    bits = int(ds.BitsStored)
    low, high = (
        (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if ds.PixelRepresentation else (0, 2**bits - 1)
    )
    if "RescaleSlope" in ds:
        low, high = (v * float(ds.RescaleSlope) + float(ds.RescaleIntercept) for v in (low, high))
    expected = np.round((values - low) * 255 / (high - low))

    (frame,) = _decode_testdata(name).frames

    assert np.abs(frame - expected).max() <= 1


def test_a_ct_window_applies_after_the_rescale_to_hounsfield_units():
    stored = np.tile(np.arange(0, 2048, 16), (16, 1)).astype(np.uint16)
    ds = native_dataset(stored, bits_stored=12, modality="CT")
    ds.RescaleSlope, ds.RescaleIntercept = 1, -1024
    ds.WindowCenter, ds.WindowWidth = 40, 400  # soft tissue: -160..240 HU

    (frame,) = decode_file(dicom_bytes(ds), max_frames=1).frames

    hounsfield = stored[0].astype(int) - 1024
    row = frame[0].astype(int)
    assert (row[hounsfield < -170] == 0).all() and (row[hounsfield > 250] == 255).all()
    assert abs(row[np.argmin(np.abs(hounsfield - 40))] - 128) <= 8


@pytest.mark.parametrize(
    ("bits", "divisor", "top"),
    [(12, 1, 4095), (16, 16, 255)],
    ids=["12-bit entries", "8-bit entries declared as 16"],
)
def test_a_voi_lut_sequence_maps_the_stored_values(bits, divisor, top):
    values = np.tile(np.arange(0, 4096, 32), (16, 1)).astype(np.uint16)
    ds = native_dataset(values, bits_stored=12)
    item = pydicom.Dataset()
    item.LUTDescriptor = [4096, 0, bits]
    table = (4095 - np.arange(4096)) // divisor  # an inverting VOI LUT
    item.LUTData = table.astype("<u2").tobytes()
    ds.VOILUTSequence = [item]

    (frame,) = decode_file(dicom_bytes(ds), max_frames=1).frames

    expected = np.round(table[values] * 255 / top)
    assert np.abs(frame.astype(int) - expected).max() <= 1
    assert frame[0, 0] == 255 and frame[0, -1] <= 2  # stored 0 shows white: the LUT inverts


def test_monochrome1_is_inverted():
    anatomy = _anatomy()
    decoded = decode_file(
        dicom_bytes(native_dataset(anatomy, interpretation="MONOCHROME1")), max_frames=1
    )

    np.testing.assert_array_equal(decoded.frames[0], 255 - anatomy)
    assert "MONOCHROME1 inverted" in decoded.notes


def test_a_one_bit_mask_spans_black_to_white():
    (frame,) = _decode_testdata("liver_1frame.dcm").frames

    assert set(np.unique(frame)) == {0, 255}


def _sixteen_bit(anatomy: np.ndarray) -> np.ndarray:
    return (anatomy.astype(np.uint16) * 12 + 300).astype(np.uint16)  # about 300..3360


def _assert_keeps_contrast(plain: np.ndarray, hot: np.ndarray) -> None:
    assert plain.std() > 40
    assert abs(hot.std() - plain.std()) < 0.05 * plain.std()


def test_a_16_bit_dicom_with_one_hot_pixel_keeps_its_contrast():
    values = _sixteen_bit(_anatomy())
    plain = decode_file(dicom_bytes(native_dataset(values)), max_frames=1)
    hot = decode_file(dicom_bytes(native_dataset(_with_hot_pixel(values))), max_frames=1)

    _assert_keeps_contrast(plain.frames[0], hot.frames[0])
    assert any("0.5-99.5 percentile" in note for note in hot.notes)


@pytest.mark.parametrize("fmt", ["PNG", "TIFF"])
def test_a_16_bit_image_with_one_hot_pixel_keeps_its_contrast(fmt):
    values = _sixteen_bit(_anatomy())
    plain = decode_file(_image(values, fmt), max_frames=1)
    hot = decode_file(_image(_with_hot_pixel(values), fmt), max_frames=1)

    _assert_keeps_contrast(plain.frames[0], hot.frames[0])
    assert "16-bit windowed to its 0.5-99.5 percentile range" in hot.notes


def test_a_real_scan_stored_in_16_bits_with_a_hot_pixel_keeps_its_contrast():
    values = _real_scan().astype(np.uint16) * 16
    plain = decode_file(_image(values, "PNG"), max_frames=1).frames[0]
    hot = decode_file(_image(_with_hot_pixel(values), "PNG"), max_frames=1).frames[0]

    _assert_keeps_contrast(plain, hot)
    # The window is the 0.5-99.5 percentile range, so the scan keeps nearly its own grey levels.
    assert np.corrcoef(plain.ravel(), _real_scan().ravel())[0, 1] > 0.99


def test_a_float_tiff_is_windowed_and_nan_is_black():
    values = _anatomy().astype(np.float32) / 255.0 - 0.25
    values[0, 0] = np.nan
    values[1, 1] = 1e30  # a hot pixel in floating point

    decoded = decode_file(_image(values, "TIFF"), max_frames=1)

    (frame,) = decoded.frames
    assert frame[0, 0] == 0 and frame.std() > 40
    assert np.corrcoef(frame.ravel()[2:], _anatomy().ravel()[2:])[0, 1] > 0.95
    assert any("floating-point" in note for note in decoded.notes)


# Ordinary images: modes, pages, animations ------------------------------------------------------


def test_an_8_bit_grey_png_comes_back_unchanged():
    anatomy = _anatomy()
    decoded = decode_file(_image(anatomy, "PNG"), max_frames=4)

    assert len(decoded.frames) == 1 and decoded.total_frames == 1
    np.testing.assert_array_equal(decoded.frames[0], anatomy)
    assert decoded.modality is None and decoded.notes == []


def test_a_real_scan_png_comes_back_unchanged():
    scan = _real_scan()

    np.testing.assert_array_equal(decode_file(_image(scan, "PNG"), max_frames=1).frames[0], scan)


def test_rgba_becomes_rgb_with_the_alpha_dropped():
    rgba = np.dstack([_colour_picture(), np.full((48, 64), 128, np.uint8)])

    decoded = decode_file(_image(rgba, "PNG"), max_frames=1)

    np.testing.assert_array_equal(decoded.frames[0], rgba[..., :3])
    assert "transparency dropped" in decoded.notes


def test_grey_with_alpha_is_grey_and_a_colour_palette_is_rgb():
    anatomy = _anatomy()
    grey_alpha = decode_file(_image(np.dstack([anatomy, anatomy]), "PNG"), max_frames=1)
    palette = PILImage.fromarray(_colour_picture()).quantize(16)
    buffer = io.BytesIO()
    palette.save(buffer, format="PNG")
    coloured = decode_file(buffer.getvalue(), max_frames=1)

    np.testing.assert_array_equal(grey_alpha.frames[0], anatomy)
    np.testing.assert_array_equal(coloured.frames[0], np.asarray(palette.convert("RGB")))


def test_cmyk_becomes_rgb():
    cmyk = PILImage.fromarray(_colour_picture()).convert("CMYK")
    buffer = io.BytesIO()
    cmyk.save(buffer, format="TIFF")

    (frame,) = decode_file(buffer.getvalue(), max_frames=1).frames

    np.testing.assert_array_equal(frame, np.asarray(cmyk.convert("RGB")))


def test_multi_page_tiff_keeps_the_scan_pages_and_names_the_thumbnail():
    pages = [_anatomy(seed=k) for k in range(3)]
    thumbnail = np.full((40, 40), 200, np.uint8)
    data = _image([pages[0], thumbnail, pages[1], pages[2]], "TIFF")

    decoded = decode_file(data, max_frames=8)

    assert len(decoded.frames) == 3
    for frame, page in zip(decoded.frames, pages, strict=True):
        np.testing.assert_array_equal(frame, page)
    assert decoded.total_frames == 4
    (left_out,) = [note for note in decoded.notes if "left out" in note]
    assert "page 2 (40x40)" in left_out and "128x96" in left_out


def test_a_tiff_whose_first_page_is_a_thumbnail_keeps_the_scan():
    scan = _anatomy()
    decoded = decode_file(_image([np.zeros((40, 40), np.uint8), scan], "TIFF"), max_frames=1)

    (frame,) = decoded.frames
    np.testing.assert_array_equal(frame, scan)
    assert any("page 1 (40x40)" in note for note in decoded.notes)


def _grey_levels_loop(frames: int) -> list[np.ndarray]:
    """Frames of a few grey levels each (exact in a GIF palette), frame k marked by its offset."""
    rng = np.random.default_rng(3)
    return [(rng.integers(0, 8, (60, 80)) * 30 + k).astype(np.uint8) for k in range(frames)]


@pytest.mark.parametrize("fmt", ["PNG", "GIF"], ids=["APNG", "GIF"])
def test_an_animation_gives_evenly_spaced_frames(fmt):
    loop = _grey_levels_loop(6)

    decoded = decode_file(_image(loop, fmt, duration=40), max_frames=3)

    assert decoded.total_frames == 6 and len(decoded.frames) == 3
    np.testing.assert_array_equal(decoded.frames[0], loop[0])
    np.testing.assert_array_equal(decoded.frames[-1], loop[5])
    assert any(np.array_equal(decoded.frames[1], frame) for frame in loop[1:5])
    assert "kept 3 of 6 frames (evenly spaced)" in decoded.notes


def test_a_long_animation_is_read_only_as_far_as_its_budget(monkeypatch):
    monkeypatch.setattr(decoding, "MAX_ANIMATION_PIXELS", 4 * 60 * 80)
    loop = _grey_levels_loop(10)

    decoded = decode_file(_image(loop, "GIF", duration=40), max_frames=2)

    assert decoded.total_frames == 10
    np.testing.assert_array_equal(decoded.frames[-1], loop[3])
    assert "only the first 4 of 10 frames read (animation too long)" in decoded.notes


def test_a_gif_with_grey_and_colour_frames_gives_frames_of_one_shape():
    grey = _grey_levels_loop(1)[0]
    colour = _colour_picture(60, 80)
    decoded = decode_file(_image([grey, colour], "GIF", duration=40), max_frames=2)

    assert [frame.shape for frame in decoded.frames] == [(60, 80, 3), (60, 80, 3)]
    np.testing.assert_array_equal(decoded.frames[0][..., 1], grey)


# Rejections -------------------------------------------------------------------------------------


def _png_declaring(width: int, height: int) -> bytes:
    """A PNG whose header declares width x height (with a valid CRC) and a token of data."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    idat = zlib.compress(b"\x00" * 16)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    )


def _truncated(data: bytes) -> bytes:
    return data[: len(data) * 2 // 3]


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty file"),
        (b"just some text, not a picture", "not an image"),
        (_truncated(_image(_anatomy(), "PNG")), "corrupt or truncated PNG"),
        (_truncated(_image(_anatomy(), "JPEG")), "corrupt or truncated JPEG"),
        (_truncated(_image(_anatomy(), "TIFF")), "corrupt or truncated TIFF"),
        (_png_declaring(7000, 7000), "decompression bomb"),  # over MAX_PIXELS, under Pillow's
        (_png_declaring(100_000, 100_000), "decompression bomb"),  # Pillow's own check
        (_image(_anatomy(), "WEBP"), "unsupported format WEBP"),
    ],
    ids=["empty", "text", "png", "jpeg", "tiff", "bomb", "pillow-bomb", "webp"],
)
def test_bad_images_are_rejected_with_a_short_reason(data, reason):
    with pytest.raises(Rejected, match=reason) as rejected:
        decode_file(data, max_frames=1)
    assert "Traceback" not in str(rejected.value) and len(str(rejected.value)) <= 200


def test_bad_dicoms_are_rejected_with_a_short_reason():
    no_pixels = native_dataset(_anatomy())
    del no_pixels.PixelData
    two_samples = native_dataset(_anatomy())
    two_samples.SamplesPerPixel = 2
    huge = native_dataset(_anatomy())
    huge.Rows = huge.Columns = 10_000
    no_palette = native_dataset(_anatomy(), interpretation="PALETTE COLOR")
    cases = {
        "palette colour image without its palette": dicom_bytes(no_palette),
        "DICOM file without an image": dicom_bytes(no_pixels),
        "unsupported DICOM layout": dicom_bytes(two_samples),
        "decompression bomb": dicom_bytes(huge),
        "DICOM pixel data could not be decoded": _truncated(
            dicom_bytes(native_dataset(_anatomy()))
        ),
    }
    for reason, data in cases.items():
        with pytest.raises(Rejected, match=reason) as rejected:
            decode_file(data, max_frames=1)
        assert "\n" not in str(rejected.value) and len(str(rejected.value)) <= 200


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("MR_truncated.dcm", "could not be decoded"),
        ("rtplan.dcm", "without an image"),
        ("meta_missing_tsyntax.dcm", "without a transfer syntax"),
        ("JPEG2000-embedded-sequence-delimiter.dcm", "JPEG 2000"),
    ],
)
def test_damaged_dicoms_from_the_pydicom_test_files_are_rejected(name, reason):
    with pytest.raises(Rejected, match=reason):
        _decode_testdata(name)


def test_max_frames_must_be_positive():
    with pytest.raises(ValueError):
        decode_file(_image(_anatomy(), "PNG"), max_frames=0)


def test_nothing_of_the_header_but_the_modality_comes_back():
    ds = native_dataset(_anatomy())
    ds.PatientName = "Doe^Jane"
    ds.InstitutionName = "Saint Elsewhere"

    decoded = decode_file(dicom_bytes(ds), max_frames=1)

    text = " ".join(decoded.notes) + repr(decoded)
    assert "Doe" not in text and "Elsewhere" not in text
    assert decoded.modality == "US"
    assert (
        decode_file(dicom_bytes(native_dataset(_anatomy(), modality=None)), max_frames=1).modality
        is None
    )
