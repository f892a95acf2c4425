"""A decoded Pillow frame as an image viewer shows it (the generic profile's decoding).

- **Orientation**: the EXIF Orientation tag applied (`ImageOps.exif_transpose`), so a phone
  photo taken sideways is stored upright.
- **Colour space**: an embedded ICC profile converted to sRGB (`ImageCms`, relative
  colorimetric, LittleCMS), for RGB and CMYK files; CMYK without a profile through Pillow's plain
  conversion. ICC profiles of grey files are not applied: a grey file stays grey.
- **Transparency** flattened on white (`ALPHA_BACKGROUND`), as a page with a white background
  shows it; palette and grey-with-alpha files go the same way.
- Frames of more than 8 bits of grey are left for decoding's windowing.

Each step that changed the pixels is named in what `as_displayed` returns, for the report.
"""

import io

import numpy as np
import PIL.Image
from PIL import ImageCms, ImageOps

ALPHA_BACKGROUND = "white"
_BACKGROUND_RGBA = (255, 255, 255, 255)
_SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
_ORIENTATION_TAG = 0x0112
# Pillow modes that carry more than 8 bits of grey.
HIGH_BIT_MODES = {"I", "I;16", "I;16B", "I;16L", "I;16N", "F"}


def as_displayed(frame: PIL.Image.Image) -> tuple[PIL.Image.Image, list[str]]:
    """The frame upright, in sRGB and opaque: mode "L", "RGB" or a high-bit grey mode; and the
    conversions that changed it ("CMYK to sRGB through its ICC profile", ...)."""
    conversions: list[str] = []
    icc = frame.info.get("icc_profile")
    try:
        orientation = frame.getexif().get(_ORIENTATION_TAG, 1)
        image = ImageOps.exif_transpose(frame)
    except Exception as exc:  # damaged EXIF fails in Pillow in many ways; the pixels are fine
        conversions.append(f"EXIF unreadable, orientation not applied ({type(exc).__name__})")
        orientation, image = 1, frame.copy()
    if orientation not in (None, 1):
        conversions.append(f"turned upright by its EXIF orientation {orientation}")
    if image.mode in HIGH_BIT_MODES or image.mode == "L":
        return image, conversions
    if image.mode == "1":
        return image.convert("L"), conversions
    if image.mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    elif image.mode not in {"RGB", "RGBA", "CMYK"}:
        # LA, La, PA, RGBa, YCbCr, LAB, HSV: Pillow converts each to RGB(A) exactly.
        has_alpha = "A" in image.getbands() or image.mode in {"La", "RGBa"}
        image = image.convert("RGBA" if has_alpha else "RGB")
    was_cmyk = image.mode == "CMYK"
    image = _to_srgb(image, icc, conversions)
    if was_cmyk and not icc:
        conversions.append("CMYK to RGB without an ICC profile (Pillow's plain conversion)")
    if image.mode == "RGBA":
        alpha = image.getchannel("A")
        if alpha.getextrema()[0] < 255:
            conversions.append(f"transparency flattened on {ALPHA_BACKGROUND}")
        background = PIL.Image.new("RGBA", image.size, _BACKGROUND_RGBA)
        image = PIL.Image.alpha_composite(background, image)
    return image.convert("RGB"), conversions


def _to_srgb(image: PIL.Image.Image, icc: bytes | None, conversions: list[str]) -> PIL.Image.Image:
    """RGB(A) or CMYK through the file's ICC profile to sRGB; noted only if pixels changed."""
    if not icc:
        return image
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        output = "RGBA" if image.mode == "RGBA" else "RGB"
        converted = ImageCms.profileToProfile(image, source, _SRGB, outputMode=output)
    except (ImageCms.PyCMSError, OSError, ValueError) as exc:
        conversions.append(f"its ICC profile could not be used ({exc}); taken as sRGB")
        return image
    if image.mode == "CMYK" or not np.array_equal(np.asarray(converted), np.asarray(image)):
        name = ImageCms.getProfileDescription(source).strip() or "unnamed"
        conversions.append(f"{image.mode} to sRGB through its ICC profile “{name}”")
    return converted
