"""Decode one uploaded file's bytes into 8-bit frames: ordinary images and DICOM.

`decode_file` turns a file into a `DecodedFile` (uint8 frames, H x W grey or H x W x 3 RGB, plus
what the ingest report should say about them) or raises `Rejected` with a short reason. It knows
nothing about archives, cropping or storage: ZIP handling stays in `quiz.ingest.pipeline`.

What comes out, and why:

- **Colour is kept** (RGB, alpha dropped; with `displayed`, flattened on white): the B-mode
  check must see colour-flow overlays, and the generic profile stores colour. A file
  whose kept frames are all exactly grey (R = G = B) comes back grey, H x W: the same pixels.
  All frames of one file have the same shape and mode.
- **Several frames** from multi-frame DICOM, multi-page TIFF, animated PNG and GIF: `max_frames`
  evenly spaced frames, the first and the last included, and never more than `MAX_PIXELS` pixels
  in all. Pages whose size differs from the largest page (a TIFF's thumbnail) are left out and
  named in a note; they are never kept in place of the scan.
- **More than 8 bits**: a window onto 0..255. DICOM's own VOI LUT or Window Center/Width when the
  file has one (after the Modality LUT / rescale); otherwise the 0.5-99.5 percentile range of the
  kept frames, so that a few hot or dead pixels cannot squash the scan into a handful of grey
  levels (a min-max stretch would). The top and bottom 0.5% of pixels saturate; for a B-mode scan
  that is specular highlights and the black background, which saturate anyway.
- **DICOM** through pydicom 3's pixel pipeline: compressed transfer syntaxes by the installed
  decoders (pylibjpeg with its libjpeg, openjpeg and RLE plugins: JPEG Baseline/Extended/Lossless,
  JPEG-LS, JPEG 2000, RLE), PALETTE COLOR through its palette, YBR colour spaces to RGB (pydicom
  already converts YBR_FULL / YBR_FULL_422 and its JPEG 2000 decoders YBR_ICT / YBR_RCT; the
  photometric interpretation the decoder reports for its output decides what is left to do, so
  nothing is converted twice), MONOCHROME1 inverted. Only the frames kept are decoded. Nothing
  of the header is kept but the Modality (ingest flags non-ultrasound) and the notes.
"""

import io
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import PIL.Image
import pydicom
from pydicom.dataset import Dataset
from pydicom.pixels import (
    apply_color_lut,
    apply_modality_lut,
    apply_voi,
    apply_windowing,
    as_pixel_options,
    convert_color_space,
    get_decoder,
)
from pydicom.uid import JPEGBaseline8Bit, JPEGExtended12Bit

from quiz.ingest.displayed import HIGH_BIT_MODES, as_displayed

IMAGE_FORMATS = {"PNG", "JPEG", "MPO", "TIFF", "BMP", "GIF"}
# Far above any ultrasound frame, and the most pixels one file's kept frames may hold together.
# Pillow's own bomb check (MAX_IMAGE_PIXELS) is also enforced, its warning as an error.
MAX_PIXELS = 40_000_000
# Animated PNG and GIF frames are composited onto their predecessors, so reaching frame k decodes
# every frame before it: only this many pixels of frames are walked through.
MAX_ANIMATION_PIXELS = 20 * MAX_PIXELS
# The robust window: percentiles of the kept frames' pixels, from a sample of at most this many.
WINDOW_PERCENTILES = (0.5, 99.5)
_WINDOW_SAMPLE = 2_000_000
_REASON_CHARS = 120
_ALPHA_MODES = {"LA", "La", "PA", "RGBA", "RGBa"}
_MONOCHROME = {"MONOCHROME1", "MONOCHROME2"}
_YBR_FULL = {"YBR_FULL", "YBR_FULL_422"}
# DICOM transfer syntaxes that store pixels as lossy (DCT, 8 x 8 block) JPEG.
_LOSSY_JPEG_SYNTAXES = {JPEGBaseline8Bit, JPEGExtended12Bit}


class Rejected(Exception):
    """A file is turned away; str(exc) is the short reason shown in the ingest report."""


@dataclass(frozen=True)
class DecodedFile:
    frames: list[np.ndarray]  # uint8, H x W (grey) or H x W x 3 (RGB), all of one shape
    total_frames: int  # frames in the file; len(frames) may be fewer (max_frames)
    modality: str | None  # DICOM Modality ("US", "MR", ...); None for ordinary image files
    notes: list[str]  # what the report should say about this file
    # The file's format (decoding.IMAGE_FORMATS, MPO as JPEG, or DICOM; a DICOM stored as lossy
    # JPEG is "JPEG": its pixels carry the same 8 x 8 block artefacts). Recorded on the image,
    # for the cue audit at publish (quiz.integrity.cue_audit).
    format: str = ""
    # What showing the file as a viewer does changed (quiz.ingest.displayed), for the report.
    conversions: list[str] = field(default_factory=list)


def decode_file(data: bytes, *, max_frames: int, displayed: bool = False) -> DecodedFile:
    """Decode one file's bytes into at most `max_frames` uint8 frames; raises `Rejected`.

    `displayed`: each frame of an ordinary image file as a viewer shows it (EXIF orientation,
    ICC to sRGB, transparency on white: quiz.ingest.displayed) instead of its stored values.
    """
    if max_frames < 1:
        raise ValueError("max_frames must be at least 1")
    if not data:
        raise Rejected("empty file")
    # DICOM Part 10 files carry "DICM" after a 128-byte preamble.
    if data[128:132] == b"DICM":
        return _decode_dicom(data, max_frames)
    return _decode_image(data, max_frames, displayed)


# Shared -----------------------------------------------------------------------------------------


def _check_pixel_count(width: int, height: int) -> None:
    if width * height > MAX_PIXELS:
        raise Rejected(
            f"decompression bomb: {width}x{height} pixels is over the {MAX_PIXELS:,} pixel limit"
        )


def _evenly_spaced(count: int, keep: int) -> list[int]:
    """`keep` indices spread evenly over range(count), the first and the last included."""
    if keep >= count:
        return list(range(count))
    if keep == 1:
        return [0]
    # Consecutive picks are more than one frame apart, so rounding never makes two the same.
    return [round(i * (count - 1) / (keep - 1)) for i in range(keep)]


def _frames_to_keep(count: int, max_frames: int, frame_pixels: int) -> int:
    # However many frames are asked for, one file's kept frames hold at most MAX_PIXELS pixels.
    return max(1, min(count, max_frames, MAX_PIXELS // max(frame_pixels, 1)))


def _kept_note(kept: int, total: int, unit: str = "frames") -> list[str]:
    if total <= 1:
        return []
    if kept == total:
        return [f"all {total} {unit} kept"]
    return [f"kept {kept} of {total} {unit} (evenly spaced)"]


def _short(exc: BaseException) -> str:
    """An exception's message on one line, cut short: a reason is one line of a report."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    # pydicom's preamble when every decoder failed; what follows it says why.
    text = text.removeprefix(
        "Unable to decode as exceptions were raised by all available plugins: "
    )
    return text if len(text) <= _REASON_CHARS else text[: _REASON_CHARS - 3] + "..."


def _robust_window(frames: Sequence[np.ndarray]) -> tuple[float, float]:
    """The WINDOW_PERCENTILES range of the frames' finite values (sampled); min-max if flat."""
    total = sum(frame.size for frame in frames)
    step = max(1, total // _WINDOW_SAMPLE)
    sample = np.concatenate([frame.reshape(-1)[::step] for frame in frames]).astype(np.float64)
    sample = sample[np.isfinite(sample)]
    if sample.size == 0:
        raise Rejected("no finite pixel values (every pixel is NaN or infinite)")
    low, high = np.percentile(sample, WINDOW_PERCENTILES)
    if high <= low:
        # Mostly one value (a blank frame with a few marks): the percentiles meet, use the range.
        low, high = float(sample.min()), float(sample.max())
    return float(low), float(high)


def _to_uint8(values: np.ndarray, low: float, high: float) -> np.ndarray:
    """Map low..high linearly onto 0..255, clipping outside; NaN becomes 0."""
    if high <= low:
        return np.zeros(values.shape, dtype=np.uint8)
    # float32 and in place: a 40-megapixel RGB frame takes one 480 MB buffer, not several in float64
    scaled = values.astype(np.float32)
    scaled -= low
    scaled *= 255.0 / (high - low)
    np.nan_to_num(scaled, copy=False, nan=0.0)
    np.clip(scaled, 0, 255, out=scaled)
    return np.rint(scaled, out=scaled).astype(np.uint8)


def _uniform_colour(frames: list[np.ndarray]) -> list[np.ndarray]:
    """All grey when every frame is exactly grey, else all RGB: one shape for the whole file."""
    if all(frame.ndim == 2 for frame in frames):
        return frames
    if all(frame.ndim == 2 or _is_grey(frame) for frame in frames):
        return [
            frame if frame.ndim == 2 else np.ascontiguousarray(frame[..., 0]) for frame in frames
        ]
    return [
        np.repeat(frame[..., None], 3, axis=2) if frame.ndim == 2 else frame for frame in frames
    ]


def _is_grey(rgb: np.ndarray) -> bool:
    return bool(
        np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(rgb[..., 1], rgb[..., 2])
    )


# Ordinary images --------------------------------------------------------------------------------


def _decode_image(data: bytes, max_frames: int, displayed: bool) -> DecodedFile:
    with warnings.catch_warnings():
        # Pillow warns about damaged metadata (the pixels decide), and only warns between
        # MAX_IMAGE_PIXELS and twice that: treat both of its bomb checks as bombs.
        warnings.simplefilter("ignore")
        warnings.simplefilter("error", PIL.Image.DecompressionBombWarning)
        try:
            image = PIL.Image.open(io.BytesIO(data))
        except PIL.UnidentifiedImageError:
            raise Rejected("not an image (unrecognised file format)") from None
        except (PIL.Image.DecompressionBombError, PIL.Image.DecompressionBombWarning):
            raise Rejected("decompression bomb: the image declares far too many pixels") from None
        except Exception as exc:  # Pillow's plugins fail on damaged headers in many ways
            raise Rejected(f"corrupt image file ({_short(exc)})") from None
        with image:
            if image.format not in IMAGE_FORMATS:
                raise Rejected(
                    f"unsupported format {image.format} (use PNG, JPEG, TIFF, BMP, GIF or DICOM)"
                )
            fmt = "JPEG" if image.format == "MPO" else image.format
            try:
                return _decode_frames(image, fmt, max_frames, displayed)
            except Rejected:
                raise
            except (PIL.Image.DecompressionBombError, PIL.Image.DecompressionBombWarning):
                raise Rejected("decompression bomb: a frame declares far too many pixels") from None
            except Exception as exc:  # damaged pixel data fails in Pillow in many ways too
                raise Rejected(f"corrupt or truncated {fmt} ({_short(exc)})") from None


def _decode_frames(
    image: PIL.Image.Image, fmt: str, max_frames: int, displayed: bool
) -> DecodedFile:
    unit = "pages" if fmt == "TIFF" else "frames"
    total = getattr(image, "n_frames", 1)
    notes: list[str] = []
    walkable = total
    if fmt in {"PNG", "GIF"} and total > 1:
        canvas = max(1, image.width * image.height)
        walkable = max(1, min(total, MAX_ANIMATION_PIXELS // canvas))
        if walkable < total:
            notes.append(f"only the first {walkable} of {total} frames read (animation too long)")
    if fmt == "TIFF":
        # A TIFF's pages each have their own size; seeking reads a page's header, not its pixels.
        sizes = []
        for index in range(total):
            image.seek(index)
            sizes.append(image.size)
    else:
        sizes = [image.size] * walkable  # animation frames are composited onto one canvas
    scan_size = max(sizes, key=lambda size: size[0] * size[1])
    _check_pixel_count(*scan_size)
    candidates = [i for i, size in enumerate(sizes) if size == scan_size]
    notes.extend(_other_size_note(sizes, scan_size))
    keep = _frames_to_keep(len(candidates), max_frames, scan_size[0] * scan_size[1])
    chosen = [candidates[i] for i in _evenly_spaced(len(candidates), keep)]
    notes[:0] = _kept_note(len(chosen), len(candidates), unit)

    raw: list[np.ndarray] = []
    alpha_dropped = False
    conversions: dict[str, None] = {}  # in order, once each
    for index in chosen:
        image.seek(index)
        image.load()
        if displayed:
            shown, changes = as_displayed(image)
            raw.append(np.asarray(shown).copy())
            conversions.update(dict.fromkeys(changes))
        else:
            pixels, dropped = _pil_pixels(image)
            raw.append(pixels)
            alpha_dropped |= dropped
    frames, window_note = _window_high_bit(raw)
    if window_note:
        notes.append(window_note)
    if alpha_dropped:
        notes.append("transparency dropped")
    return DecodedFile(
        _uniform_colour(frames), total, None, notes, format=fmt, conversions=list(conversions)
    )


def _other_size_note(sizes: list[tuple[int, int]], scan_size: tuple[int, int]) -> list[str]:
    others = [(i, size) for i, size in enumerate(sizes) if size != scan_size]
    if not others:
        return []
    named = ", ".join(f"page {i + 1} ({w}x{h})" for i, (w, h) in others[:5])
    more = f" and {len(others) - 5} more" if len(others) > 5 else ""
    plural = "s" if len(others) > 1 else ""
    return [
        f"left out {len(others)} page{plural} of another size than the scan "
        f"({scan_size[0]}x{scan_size[1]}): {named}{more}"
    ]


def _pil_pixels(image: PIL.Image.Image) -> tuple[np.ndarray, bool]:
    """The frame as uint8 grey/RGB or as its high-bit grey values, and whether alpha was dropped."""
    if image.mode in HIGH_BIT_MODES:
        return np.asarray(image).copy(), False
    if image.mode == "L":
        return np.asarray(image, dtype=np.uint8).copy(), False
    if image.mode == "1":
        return np.asarray(image.convert("L"), dtype=np.uint8).copy(), False
    dropped = False
    if image.mode in _ALPHA_MODES or (image.mode == "P" and "transparency" in image.info):
        alpha = image.convert("RGBA").getchannel("A")
        dropped = alpha.getextrema()[0] < 255
    # Palette, alpha, CMYK, YCbCr: through Pillow's RGB conversion (alpha is simply discarded).
    return np.asarray(image.convert("RGB"), dtype=np.uint8).copy(), dropped


def _window_high_bit(raw: list[np.ndarray]) -> tuple[list[np.ndarray], str]:
    """Window the high-bit frames (one window for all of them) onto 0..255; uint8 ones stay."""
    high_bit = [frame for frame in raw if frame.dtype != np.uint8]
    if not high_bit:
        return raw, ""
    low, high = _robust_window(high_bit)
    frames = [frame if frame.dtype == np.uint8 else _to_uint8(frame, low, high) for frame in raw]
    kind = "floating-point" if high_bit[0].dtype.kind == "f" else f"{_bit_depth(high_bit)}-bit"
    return frames, f"{kind} windowed to its {_percentile_label()} percentile range"


def _bit_depth(frames: list[np.ndarray]) -> int:
    return max(frame.dtype.itemsize * 8 for frame in frames)


def _percentile_label() -> str:
    return f"{WINDOW_PERCENTILES[0]:g}-{WINDOW_PERCENTILES[1]:g}"


# DICOM ------------------------------------------------------------------------------------------


def _decode_dicom(data: bytes, max_frames: int) -> DecodedFile:
    with warnings.catch_warnings():
        # pydicom warns about every header oddity; the file is judged by its pixels alone.
        warnings.simplefilter("ignore")
        try:
            dataset = pydicom.dcmread(io.BytesIO(data))
        except Exception as exc:  # pydicom raises many kinds of errors for damaged files
            raise Rejected(f"corrupt DICOM file ({_short(exc)})") from None
        try:
            return _decode_dataset(dataset, max_frames)
        except Rejected:
            raise
        except Exception as exc:  # a header value pydicom cannot use (missing, malformed)
            raise Rejected(f"DICOM pixel data could not be decoded ({_short(exc)})") from None


def _decode_dataset(dataset: Dataset, max_frames: int) -> DecodedFile:
    if "PixelData" not in dataset:
        if "FloatPixelData" in dataset or "DoubleFloatPixelData" in dataset:
            raise Rejected("unsupported DICOM layout (floating-point pixel data)")
        raise Rejected("DICOM file without an image (no pixel data)")
    modality = str(dataset.get("Modality", "") or "").strip() or None
    syntax = dataset.file_meta.get("TransferSyntaxUID")
    if syntax is None:
        raise Rejected("DICOM file without a transfer syntax (cannot tell how pixels are stored)")
    try:
        decoder = get_decoder(syntax)
    except NotImplementedError:
        raise Rejected(f"DICOM transfer syntax {_syntax_name(syntax)} cannot be decoded") from None
    if not decoder.is_available:
        raise Rejected(
            f"DICOM transfer syntax {_syntax_name(syntax)} needs a decoder that is not installed"
        )
    rows, columns = int(dataset.get("Rows", 0) or 0), int(dataset.get("Columns", 0) or 0)
    samples = int(dataset.get("SamplesPerPixel", 1) or 1)
    interpretation = str(dataset.get("PhotometricInterpretation", "") or "").strip()
    if rows < 1 or columns < 1:
        raise Rejected("unsupported DICOM layout (no rows or columns)")
    if samples not in (1, 3):
        raise Rejected(f"unsupported DICOM layout ({samples} samples per pixel)")
    _check_pixel_count(columns, rows)
    total = max(1, int(dataset.get("NumberOfFrames", 1) or 1))
    keep = _frames_to_keep(total, max_frames, rows * columns)
    indices = _evenly_spaced(total, keep)

    raw: list[np.ndarray] = []
    output_interpretation = interpretation
    try:
        options = as_pixel_options(dataset, as_rgb=True)
        for pixels, properties in decoder.iter_array(dataset, indices=indices, **options):
            raw.append(pixels)
            output_interpretation = str(properties.get("photometric_interpretation", ""))
    except Exception as exc:
        if syntax.is_compressed:
            raise Rejected(
                f"DICOM {_syntax_name(syntax)} pixel data could not be decoded ({_short(exc)})"
            ) from None
        raise Rejected(f"DICOM pixel data could not be decoded ({_short(exc)})") from None

    notes = _kept_note(len(raw), total)
    frames, colour_note = _dicom_to_uint8(raw, dataset, samples, output_interpretation)
    notes.extend(colour_note)
    if modality is None:
        notes.append("DICOM file without a Modality")
    fmt = "JPEG" if syntax in _LOSSY_JPEG_SYNTAXES else "DICOM"
    return DecodedFile(_uniform_colour(frames), total, modality, notes, format=fmt)


def _syntax_name(syntax: pydicom.uid.UID) -> str:
    return syntax.name if syntax.is_valid and syntax.name != str(syntax) else f"'{syntax}'"


def _dicom_to_uint8(
    raw: list[np.ndarray], dataset: Dataset, samples: int, interpretation: str
) -> tuple[list[np.ndarray], list[str]]:
    """The decoded frames as uint8 grey or RGB, and notes on what was done to them."""
    if samples == 1 and interpretation in _MONOCHROME:
        return _monochrome(raw, dataset, interpretation)
    if samples == 1 and interpretation == "PALETTE COLOR":
        palette = _palette(dataset)
        return [palette(frame) for frame in raw], ["palette colour mapped to RGB"]
    if samples == 3 and interpretation in _YBR_FULL:
        # Only reached when the decoder left the data in YBR (pydicom converts by default).
        raw = [convert_color_space(frame, "YBR_FULL", "RGB") for frame in raw]
        interpretation = "RGB"
    if samples == 3 and interpretation == "RGB":
        if all(frame.dtype == np.uint8 for frame in raw):
            return raw, []
        low, high = _robust_window(raw)
        return [_to_uint8(frame, low, high) for frame in raw], [
            f"{_bit_depth(raw)}-bit colour windowed to its {_percentile_label()} percentile range"
        ]
    raise Rejected(
        f"unsupported DICOM layout (photometric interpretation {interpretation or 'missing'} "
        f"with {samples} samples per pixel)"
    )


def _monochrome(
    raw: list[np.ndarray], dataset: Dataset, interpretation: str
) -> tuple[list[np.ndarray], list[str]]:
    notes: list[str] = []
    # Many ultrasound files declare the identity rescale (slope 1, intercept 0): no rescale at all.
    rescaled = bool(dataset.get("ModalityLUTSequence")) or (
        float(dataset.get("RescaleSlope", 1) or 1),
        float(dataset.get("RescaleIntercept", 0) or 0),
    ) != (1.0, 0.0)
    values = [apply_modality_lut(frame, dataset) for frame in raw] if rescaled else raw
    window = _dicom_window(dataset)
    if window is not None:
        frames = [window(frame) for frame in values]
        notes.append("DICOM VOI window applied")
    elif not rescaled and int(dataset.get("BitsStored", 8) or 8) <= 8:
        frames = [_stored_range_to_uint8(frame, dataset) for frame in values]
    else:
        low, high = _robust_window(values)
        frames = [_to_uint8(frame, low, high) for frame in values]
        notes.append(
            f"{int(dataset.get('BitsStored', 16) or 16)}-bit windowed to its "
            f"{_percentile_label()} percentile range (no DICOM window)"
        )
    if interpretation == "MONOCHROME1":
        frames = [255 - frame for frame in frames]  # MONOCHROME1 shows its lowest value as white
        notes.append("MONOCHROME1 inverted")
    return frames, notes


def _dicom_window(dataset: Dataset) -> Callable[[np.ndarray], np.ndarray] | None:
    """The file's VOI LUT or Window Center/Width as a function onto uint8; None if it has none."""
    if dataset.get("VOILUTSequence"):
        entries, first, bits = (int(value) for value in dataset.VOILUTSequence[0].LUTDescriptor)
        table = apply_voi(np.arange(first, first + (entries or 2**16)), dataset)
        # As with palettes, some writers declare 16-bit entries and store 8-bit ones.
        top = 255.0 if bits > 8 and int(table.max()) <= 255 else float(2**bits - 1)
        return lambda frame: _to_uint8(apply_voi(frame, dataset), 0.0, top)
    if "WindowCenter" not in dataset or "WindowWidth" not in dataset:
        return None
    # pydicom scales a window onto the stored bit depth's range; a stand-in dataset that declares
    # 8 unsigned bits and no rescale gets the window onto 0..255 directly.
    view = Dataset()
    view.PhotometricInterpretation = "MONOCHROME2"
    view.BitsStored = 8
    view.PixelRepresentation = 0
    view.WindowCenter = dataset.WindowCenter
    view.WindowWidth = dataset.WindowWidth
    if "VOILUTFunction" in dataset:
        view.VOILUTFunction = dataset.VOILUTFunction
    probe = np.zeros((1, 1))
    try:
        apply_windowing(probe, view)  # a zero or negative width raises here, not per frame
    except ValueError:
        return None
    return lambda frame: _to_uint8(apply_windowing(frame, view), 0.0, 255.0)


def _stored_range_to_uint8(frame: np.ndarray, dataset: Dataset) -> np.ndarray:
    """At most 8 stored bits: the stored range (e.g. 0..1 of a 1-bit mask) onto 0..255."""
    bits = int(dataset.get("BitsStored", 8) or 8)
    if int(dataset.get("PixelRepresentation", 0) or 0):
        low, high = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    else:
        low, high = 0, 2**bits - 1
    if (low, high) == (0, 255) and frame.dtype == np.uint8:
        return frame
    return _to_uint8(frame, float(low), float(high))


def _palette(dataset: Dataset) -> Callable[[np.ndarray], np.ndarray]:
    """The file's Palette Color LUT as a function from stored indices to uint8 RGB."""
    if "RedPaletteColorLookupTableDescriptor" not in dataset:
        raise Rejected("DICOM palette colour image without its palette")
    entries, first = (int(value) for value in dataset.RedPaletteColorLookupTableDescriptor[:2])
    try:
        table = apply_color_lut(np.arange(first, first + (entries or 2**16)), dataset)
    except ValueError as exc:
        raise Rejected(f"unsupported DICOM palette ({_short(exc)})") from None
    # 16-bit palette entries span 0..65535, but some writers store 8-bit entries in 16 bits.
    top = 255.0 if table.dtype == np.uint8 or int(table.max()) <= 255 else 65535.0

    def to_rgb(frame: np.ndarray) -> np.ndarray:
        rgb = apply_color_lut(frame, dataset)[..., :3]  # an RGBA palette's alpha is dropped
        return rgb if rgb.dtype == np.uint8 else _to_uint8(rgb, 0.0, top)

    return to_rgb
