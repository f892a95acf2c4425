"""quiz.ingest.bmode_check: colour Doppler, elastography, colour annotations, other modalities and
application screenshots are flagged; real grayscale B-mode (also through a tinted map) is not.

The image builders below draw the negative cases (and a simulated B-mode frame, so that the core
cases run without ../shared/data); benchmarks/bench_bmode_check.py reuses them.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import PIL.Image
import pydicom
import pytest
from PIL import ImageDraw, ImageFont
from pydicom.data import get_testdata_file
from scipy import ndimage

from quiz.ingest.bmode_check import Flag, check_bmode, check_screen
from quiz.ingest.field_of_view.detector import find_field_of_view

SHARED_DATA = Path(__file__).resolve().parents[3].parent / "shared" / "data"
MUSCLE_IMAGES = SHARED_DATA / "muscle-us" / "images"
TIMTRACK = SHARED_DATA / "timtrack-cc0"


# Image builders ----------------------------------------------------------------------------------


def speckle_bmode(height: int = 600, width: int = 800, seed: int = 0) -> np.ndarray:
    """A simulated longitudinal muscle scan: fully developed speckle, log-compressed to 8 bits.

    Scatterers (complex Gaussian) filtered by an anisotropic point-spread function, weighted by an
    echogenicity map with bright aponeuroses, slanted fascicles and darker depth; envelope, then
    60 dB log compression as a scanner displays it.
    """
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[0:height, 0:width].astype(np.float32)
    echo = 0.25 + 0.1 * np.sin(cols / 37.0 + rows / 11.0)  # fascicle striation
    for depth, slope in ((0.12, 0.02), (0.55, -0.05)):
        line = depth * height + slope * cols
        echo += 2.5 * np.exp(-(((rows - line) / 4.0) ** 2))  # aponeuroses
    echo *= np.exp(-rows / (1.5 * height))  # attenuation with depth
    scatter = rng.standard_normal((height, width)) + 1j * rng.standard_normal((height, width))
    psf = ndimage.gaussian_filter(scatter.real, (1.5, 3.0)) + 1j * ndimage.gaussian_filter(
        scatter.imag, (1.5, 3.0)
    )
    envelope = np.abs(psf) * np.sqrt(echo)
    # 60 dB shown, the median echo 25 dB above black (a gain that keeps muscle dark grey).
    decibels = 20 * np.log10(envelope / np.median(envelope) + 1e-6)
    return np.clip((decibels + 25) / 60 * 255, 0, 255).astype(np.uint8)


def real_bmode_frames(count: int) -> list[np.ndarray]:
    """`count` real frames, evenly spread over muscle-us and timtrack dataset_1 (grey, cropped)."""
    if not MUSCLE_IMAGES.is_dir() or not (TIMTRACK / "dataset_1").is_dir():
        pytest.skip(f"real test images not found at {SHARED_DATA} (../shared/data is absent)")
    paths = sorted(MUSCLE_IMAGES.glob("*.png")) + sorted((TIMTRACK / "dataset_1").rglob("*.png"))
    picked = np.linspace(0, len(paths) - 1, count).round().astype(int)
    return [np.asarray(PIL.Image.open(paths[index]).convert("L")) for index in picked]


def dicom_pixels(name: str) -> tuple[np.ndarray, str]:
    """A pydicom test file's pixels windowed to 8 bits (0.5-99.5 percentiles) and its Modality."""
    dataset = pydicom.dcmread(get_testdata_file(name))
    values = dataset.pixel_array.astype(np.float64)
    low, high = np.percentile(values, (0.5, 99.5))
    pixels = (np.clip((values - low) / (high - low), 0, 1) * 255).astype(np.uint8)
    return pixels, str(dataset.Modality)


def upscaled(pixels: np.ndarray, side: int) -> np.ndarray:
    """A small slice enlarged as a viewer shows it (bicubic)."""
    image = PIL.Image.fromarray(pixels)
    return np.asarray(image.resize((side, side * image.height // image.width), PIL.Image.BICUBIC))


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    return ImageFont.load_default(size=size)


def application_window(width: int = 1000, height: int = 700) -> np.ndarray:
    """A desktop application: title bar, menus, toolbar buttons, a tree panel, a form, a table."""
    image = PIL.Image.new("RGB", (width, height), (236, 236, 236))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, width, 28), fill=(52, 73, 94))
    draw.text((10, 6), "Viewer - study_0042.dcm", fill=(255, 255, 255), font=_font(15))
    for index, label in enumerate(("File", "Edit", "View", "Image", "Tools", "Help")):
        draw.text((10 + 60 * index, 34), label, fill=(20, 20, 20), font=_font(14))
    for index in range(14):  # toolbar buttons
        left = 8 + 44 * index
        draw.rounded_rectangle(
            (left, 56, left + 36, 92), 4, fill=(250, 250, 250), outline=(160,) * 3
        )
        draw.rectangle((left + 10, 66, left + 26, 82), outline=(60, 60, 60), width=2)
    draw.rectangle((0, 100, 220, height - 24), fill=(246, 246, 246), outline=(180,) * 3)
    for index in range(22):  # a tree of series
        draw.text(
            (14 + 12 * (index % 3), 110 + 24 * index), f"Series {index + 1}: B-mode", fill=(0, 0, 0)
        )
    draw.rectangle((230, 100, width - 8, height - 24), fill=(255, 255, 255), outline=(180,) * 3)
    for row in range(12):  # a table with grid lines
        top = 120 + 26 * row
        draw.line((240, top, width - 20, top), fill=(200, 200, 200))
        for column, text in enumerate(("Patient", f"{row:04d}", "Muscle", "12.5 mm", "OK")):
            draw.text((250 + 140 * column, top + 6), text, fill=(30, 30, 30), font=_font(13))
    draw.rectangle((240, 450, 600, 640), fill=(242, 246, 252), outline=(120, 140, 180))
    for row in range(5):  # a form: labels and input boxes
        draw.text((252, 462 + 34 * row), f"Field {row}", fill=(0, 0, 0), font=_font(13))
        draw.rectangle(
            (340, 458 + 34 * row, 590, 482 + 34 * row), fill=(255, 255, 255), outline=(150,) * 3
        )
    draw.rectangle((0, height - 22, width, height), fill=(220, 220, 220))
    draw.text((8, height - 19), "Ready", fill=(0, 0, 0), font=_font(13))
    return np.asarray(image)


def four_pane_viewer(side: int = 1000) -> np.ndarray:
    """A 2 x 2 viewer: one ultrasound-like pane, an MRI slice, a 3-D render and a blank pane."""
    half = side // 2
    image = np.full((side, side), 40, dtype=np.uint8)
    mri = upscaled(dicom_pixels("MR_small.dcm")[0], half)
    panes = (speckle_bmode(half, half), mri, sphere_render(half, half), np.full((half, half), 90))
    for index, pane in enumerate(panes):
        top, left = half * (index // 2), half * (index % 2)
        image[top : top + half, left : left + half] = pane[:half, :half]
    image[half - 2 : half + 2, :] = 200  # the dividing lines
    image[:, half - 2 : half + 2] = 200
    return image


def sphere_render(height: int = 700, width: int = 900) -> np.ndarray:
    """A shaded 3-D render: a Lambert-and-Phong sphere and a torus over a gradient backdrop."""
    rows, cols = np.mgrid[0:height, 0:width].astype(np.float64)
    image = 30 + 50 * rows / height  # backdrop gradient
    light = np.array([-0.4, -0.5, 0.77])
    radius = 0.35 * min(height, width)
    x, y = (cols - 0.4 * width) / radius, (rows - 0.5 * height) / radius
    inside = x**2 + y**2 < 1
    z = np.sqrt(np.clip(1 - x**2 - y**2, 0, 1))
    diffuse = np.clip(x * light[0] + y * light[1] + z * light[2], 0, 1)
    image[inside] = (40 + 170 * diffuse + 45 * diffuse**40)[inside]
    # The torus, seen from above: a ring whose tube normal tilts with the distance from its centre.
    u, v = (cols - 0.78 * width) / (0.15 * width), (rows - 0.5 * height) / (0.15 * width)
    ring = np.hypot(u, v)
    tube = np.clip(1 - ((ring - 1) / 0.35) ** 2, 0, 1)
    shade = np.sqrt(tube) * 0.8 + 0.2 * np.clip(-(u + v) / (ring + 1e-9), 0, 1)
    image = np.where(tube > 0, 50 + 170 * shade, image)
    return np.clip(image, 0, 255).astype(np.uint8)


def dark_theme(rgb: np.ndarray) -> np.ndarray:
    """The same window in a dark theme: light and dark swapped, dimmed (panels at grey 30-60)."""
    return ((255 - rgb.astype(np.float64)) * 0.8).astype(np.uint8)


def line_chart(width: int = 900, height: int = 600) -> np.ndarray:
    """A plot: axes, ticks, grid, two curves, bars and labels on white."""
    image = PIL.Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    left, top, right, bottom = 80, 40, width - 30, height - 60
    for step in range(11):
        x = left + (right - left) * step / 10
        y = top + (bottom - top) * step / 10
        draw.line((x, top, x, bottom), fill=(225, 225, 225))
        draw.line((left, y, right, y), fill=(225, 225, 225))
        draw.text((x - 8, bottom + 8), f"{step * 10}", fill=(0, 0, 0), font=_font(13))
        draw.text((left - 40, y - 7), f"{1 - step / 10:.1f}", fill=(0, 0, 0), font=_font(13))
    for index in range(10):
        x = left + 20 + index * (right - left - 40) / 10
        bar = (bottom - top) * (0.2 + 0.05 * index)
        draw.rectangle((x, bottom - bar, x + 25, bottom), fill=(150, 190, 230))
    xs = np.linspace(left, right, 200)
    for phase, colour in ((0.0, (200, 40, 40)), (1.5, (40, 120, 40))):
        ys = (top + bottom) / 2 + 0.35 * (bottom - top) * np.sin(xs / 60 + phase)
        draw.line(list(zip(xs.tolist(), ys.tolist(), strict=True)), fill=colour, width=3)
    draw.rectangle((left, top, right, bottom), outline=(0, 0, 0), width=2)
    draw.text((width / 2 - 60, 12), "Accuracy by round", fill=(0, 0, 0), font=_font(16))
    return np.asarray(image)


def _rgb(grey: np.ndarray) -> np.ndarray:
    return np.repeat(grey[..., None], 3, axis=2)


def doppler_overlay(
    grey: np.ndarray, seed: int = 0, *, power: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Colour Doppler planted on a B-mode frame: red and blue vessels (flow towards and away from
    the probe) in the middle half of the frame, where a scanner's colour box would be; with
    `power`, power Doppler's single orange hue instead.

    Returns the RGB frame and the vessels as a bool mask.
    """
    rng = np.random.default_rng(seed)
    height, width = grey.shape
    rgb = _rgb(grey).astype(np.float64)
    rows, cols = np.mgrid[0:height, 0:width]
    vessels = np.zeros((height, width), dtype=bool)
    for index in range(6):  # vessels: slanted ellipses, flow towards (red) or away (blue)
        cy = rng.uniform(0.3, 0.7) * height
        cx = rng.uniform(0.3, 0.7) * width
        a, b = rng.uniform(0.04, 0.09) * width, rng.uniform(0.015, 0.03) * height
        angle = rng.uniform(-0.5, 0.5)
        du, dv = cols - cx, rows - cy
        u = du * np.cos(angle) + dv * np.sin(angle)
        v = -du * np.sin(angle) + dv * np.cos(angle)
        # Ragged walls and colour noise, as a Doppler estimator's variance draws them.
        vessel = (u / a) ** 2 + (v / b) ** 2 < 1 + 0.3 * rng.standard_normal((height, width))
        speed = np.clip(1 - (v / b) ** 2, 0, 1)  # parabolic profile: fastest in the middle
        colour = np.array([255, 60, 0]) if index % 2 else np.array([0, 90, 255])
        if power:
            colour = np.array([255, 150, 20])
        tone = (0.5 + 0.5 * speed * rng.uniform(0.6, 1.0, (height, width)))[..., None]
        rgb = np.where(vessel[..., None], colour * tone, rgb)
        vessels |= vessel
    return rgb.clip(0, 255).astype(np.uint8), vessels


def elastography_overlay(grey: np.ndarray, seed: int = 0) -> np.ndarray:
    """A strain elastography map: a rainbow (blue-green-red) of smooth stiffness blended at 60%
    over a box in the middle of the field."""
    rng = np.random.default_rng(seed)
    height, width = grey.shape
    top, bottom, left, right = height // 5, 4 * height // 5, width // 5, 4 * width // 5
    stiffness = ndimage.gaussian_filter(rng.standard_normal((bottom - top, right - left)), 25)
    stiffness = (stiffness - stiffness.min()) / (np.ptp(stiffness) + 1e-9)
    hue = (1 - stiffness) * 2 / 3  # 0 = red (hard) .. 2/3 = blue (soft)
    hsv = np.stack([hue * 255, np.full_like(hue, 255), np.full_like(hue, 255)], axis=2)
    rainbow = np.asarray(PIL.Image.fromarray(hsv.astype(np.uint8), "HSV").convert("RGB"))
    rgb = _rgb(grey).astype(np.float64)
    rgb[top:bottom, left:right] = 0.4 * rgb[top:bottom, left:right] + 0.6 * rainbow
    return rgb.clip(0, 255).astype(np.uint8)


def colour_annotations(grey: np.ndarray) -> np.ndarray:
    """Calipers, a dotted measurement line and a label drawn in colour inside the field."""
    image = PIL.Image.fromarray(_rgb(grey))
    draw = ImageDraw.Draw(image)
    height, width = grey.shape
    start, end = (width * 0.3, height * 0.35), (width * 0.65, height * 0.6)
    for x, y in (start, end):
        draw.line((x - 8, y, x + 8, y), fill=(255, 255, 0), width=2)
        draw.line((x, y - 8, x, y + 8), fill=(255, 255, 0), width=2)
    for step in range(0, 40, 2):
        t0, t1 = step / 40, (step + 1) / 40
        draw.line(
            (
                start[0] + (end[0] - start[0]) * t0,
                start[1] + (end[1] - start[1]) * t0,
                start[0] + (end[0] - start[0]) * t1,
                start[1] + (end[1] - start[1]) * t1,
            ),
            fill=(0, 255, 0),
            width=1,
        )
    draw.text((width * 0.66, height * 0.62), "D1 12.4 mm", fill=(255, 255, 0), font=_font(14))
    return np.asarray(image)


def tinted(grey: np.ndarray, tint: str) -> np.ndarray:
    """B-mode shown through a scanner's tinted map: sepia or blue (chroma grows with luminance)."""
    gains = {"sepia": (1.0, 0.86, 0.67), "blue": (0.7, 0.85, 1.0)}[tint]
    return (grey[..., None].astype(np.float64) * np.array(gains)).clip(0, 255).astype(np.uint8)


def jpeg_round_trip(pixels: np.ndarray, quality: int = 75) -> np.ndarray:
    buffer = io.BytesIO()
    PIL.Image.fromarray(pixels).save(buffer, format="JPEG", quality=quality)
    return np.asarray(PIL.Image.open(io.BytesIO(buffer.getvalue())))


def field_in_frame(frame: np.ndarray) -> np.ndarray:
    """The field of view ingest would find, as a frame-sized mask."""
    return find_field_of_view([frame]).in_frame(*frame.shape[:2])


def codes(flags: list[Flag]) -> set[str]:
    return {flag.code for flag in flags}


def reported_share(flag: Flag) -> float:
    """The share of the field a colour flag's reason gives ("... in 12% of the field ...")."""
    return float(flag.reason.split(" in ", 1)[1].split("%", 1)[0]) / 100


# Plain B-mode passes -----------------------------------------------------------------------------


def test_simulated_bmode_passes_grey_and_as_rgb():
    frame = speckle_bmode()
    assert check_bmode(frame) == []
    # A grey scan saved as a colour JPEG: equal channels plus the codec's chroma noise.
    assert check_bmode(jpeg_round_trip(np.repeat(frame[..., None], 3, axis=2), 60)) == []


@pytest.mark.parametrize("tint", ["sepia", "blue"])
def test_tinted_bmode_is_a_colour_map_not_doppler(tint):
    frame = jpeg_round_trip(tinted(speckle_bmode(), tint))
    # The tint is strong enough that plain chroma would call it colour: the brightest echoes lie
    # further from grey than the distance (40 levels) that the check counts as colour.
    chroma = frame.max(axis=2).astype(int) - frame.min(axis=2)
    assert np.percentile(chroma, 99) > 40
    assert check_bmode(frame) == []


def test_real_frames_pass_inside_their_field():
    for frame in real_bmode_frames(24):
        field = field_in_frame(frame)
        assert check_bmode(frame, field) == []
        assert check_bmode(jpeg_round_trip(frame, 40), field) == []


@pytest.mark.parametrize(
    "smooth",
    [
        lambda frame: ndimage.gaussian_filter(frame, 1.0),
        lambda frame: ndimage.median_filter(frame, 5),
    ],
    ids=["gaussian-1px", "median-5"],
)
def test_speckle_reduction_of_a_scanner_still_passes(smooth):
    for frame in real_bmode_frames(12):
        assert check_bmode(smooth(frame), field_in_frame(frame)) == []


def test_scanner_ui_colour_outside_the_field_does_not_count():
    paths = sorted((TIMTRACK / "dataset_2").rglob("*.png"))
    if not paths:
        pytest.skip(f"real test images not found at {TIMTRACK} (../shared/data is absent)")
    frame = np.asarray(PIL.Image.open(paths[0]).convert("RGB"))
    # The GE screen frame's yellow focus markers lie in the UI beside the scan.
    assert "colour-in-field" in codes(check_bmode(frame))
    assert check_bmode(frame, field_in_frame(frame)) == []


def test_a_non_rectangular_field_is_judged_inside_its_mask():
    frame = speckle_bmode(600, 800)
    rows, cols = np.mgrid[0:600, 0:800]
    # A sector: everything outside it is black or a flat grey panel with text, as on a scanner.
    sector = (np.hypot(rows + 200, cols - 400) < 780) & (np.abs(cols - 400) < (rows + 200) * 0.7)
    screen = np.where(sector, frame, 0).astype(np.uint8)
    screen[:, 650:] = np.where(sector[:, 650:], screen[:, 650:], 70)
    image = PIL.Image.fromarray(screen)
    ImageDraw.Draw(image).text((660, 40), "MSK 12L\nGain 55\nDR 60", fill=230, font=_font(18))
    screen = np.asarray(image)
    assert check_bmode(screen, sector) == []
    assert check_bmode(screen, sector & False) == []  # an empty field: nothing to judge


# Modality ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["MR_small.dcm", "CT_small.dcm"])
def test_other_dicom_modalities_are_flagged_by_name(name):
    pixels, modality = dicom_pixels(name)
    flags = check_bmode(pixels, modality=modality)
    assert "modality" in codes(flags)
    reason = next(flag.reason for flag in flags if flag.code == "modality")
    assert f"Modality {modality}," in reason and "US" in reason


@pytest.mark.parametrize("modality", ["US", "us ", "", None])
def test_ultrasound_or_no_modality_is_not_a_modality_flag(modality):
    assert check_bmode(speckle_bmode(), modality=modality) == []


@pytest.mark.parametrize("name", ["MR_small.dcm", "CT_small.dcm"])
def test_an_upscaled_slice_fails_on_its_pixels_alone(name):
    pixels, modality = dicom_pixels(name)
    slice_ = upscaled(pixels, 512)
    assert codes(check_bmode(slice_)) == {"not-ultrasound"}
    flags = check_bmode(slice_, modality=modality)
    assert [flag.code for flag in flags] == ["modality", "not-ultrasound"]


# Not ultrasound ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "build",
    [
        application_window,
        lambda: dark_theme(application_window()),
        four_pane_viewer,
        sphere_render,
        line_chart,
    ],
    ids=["application_window", "dark_theme", "four_pane_viewer", "sphere_render", "line_chart"],
)
def test_screenshots_renders_and_charts_are_not_ultrasound(build):
    flags = check_bmode(build())
    assert "not-ultrasound" in codes(flags)
    assert "colour-flow" not in codes(flags)


def test_the_ultrasound_pane_of_a_viewer_alone_passes():
    viewer = four_pane_viewer(1000)
    pane = np.zeros(viewer.shape, dtype=bool)
    pane[:498, :498] = True
    assert check_bmode(viewer, pane) == []
    smooth_pane = np.zeros(viewer.shape, dtype=bool)
    smooth_pane[:498, 502:] = True
    assert codes(check_bmode(viewer, smooth_pane)) == {"not-ultrasound"}


# Colour ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("power", [False, True], ids=["velocity", "power"])
def test_colour_doppler_is_flagged_with_its_share_of_the_field(power):
    frame, vessels = doppler_overlay(speckle_bmode(), seed=3, power=power)
    flags = check_bmode(frame)
    assert codes(flags) == {"colour-flow"}
    assert reported_share(flags[0]) == pytest.approx(vessels.mean(), rel=0.35)


def test_colour_doppler_on_real_frames_and_through_a_tint():
    for seed, grey in enumerate(real_bmode_frames(4)):
        frame, vessels = doppler_overlay(grey, seed=seed)
        assert "colour-flow" in codes(check_bmode(frame))
        # The same flow on the scan shown through a sepia map: the map adapts, the flow stands out.
        sepia = tinted(grey, "sepia")
        sepia[vessels] = frame[vessels]
        assert "colour-flow" in codes(check_bmode(jpeg_round_trip(sepia)))


def test_doppler_outside_the_field_is_not_counted():
    frame, vessels = doppler_overlay(speckle_bmode())
    field = ~ndimage.binary_dilation(vessels, iterations=6)
    assert check_bmode(frame, field) == []


def test_elastography_map_is_colour_flow():
    flags = check_bmode(elastography_overlay(speckle_bmode()))
    assert codes(flags) == {"colour-flow"}
    # The map covers the middle 60% x 60% of the frame: 36%; its bluish-grey patches may pass.
    assert 0.15 < reported_share(flags[0]) <= 0.37


def test_an_elastography_map_over_the_whole_field_is_colour_flow():
    # The map then fills every luminance bin: the frame's colour map must not become the rainbow.
    grey = speckle_bmode()
    rgb = np.repeat(grey[..., None], 3, axis=2)
    full = elastography_overlay(grey)[120:480, 160:640]
    flags = check_bmode(full)
    assert codes(flags) == {"colour-flow"}
    assert reported_share(flags[0]) > 0.9
    assert check_bmode(rgb[120:480, 160:640]) == []


def test_colour_annotations_are_colour_in_the_field_not_flow():
    flags = check_bmode(colour_annotations(speckle_bmode()))
    assert codes(flags) == {"colour-in-field"}
    assert reported_share(flags[0]) < 0.01


# Input -------------------------------------------------------------------------------------------


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="uint8"):
        check_bmode(np.zeros((10, 10), dtype=np.uint16))
    with pytest.raises(ValueError, match="uint8"):
        check_bmode(np.zeros((10, 10, 4), dtype=np.uint8))
    with pytest.raises(ValueError, match="field mask"):
        check_bmode(np.zeros((10, 10), dtype=np.uint8), np.ones((10, 11), dtype=bool))


def test_a_pane_cut_from_an_application_window_is_flagged_by_its_screen():
    viewer = four_pane_viewer()
    field = field_in_frame(viewer)
    assert field.mean() < 0.5  # the detector found the ultrasound pane alone
    assert check_bmode(viewer, field) == []  # which is tissue...
    [flag] = check_screen(viewer, field)  # ...beside smooth panes: not a scanner's screen
    assert flag.code == "not-ultrasound" and "application's window" in flag.reason


def test_real_scanner_screens_around_their_field_are_not_application_windows():
    for frame in real_bmode_frames(24):
        assert check_screen(frame, field_in_frame(frame)) == []
