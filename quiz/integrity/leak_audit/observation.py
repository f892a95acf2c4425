"""What the crawler records of one panel, and what a served file says about itself besides its
pixels: status, headers, length, PNG chunk layout, format, mode and size."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from io import BytesIO

from PIL import Image as PILImage

from quiz.integrity.leak_audit.browser import Response

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@dataclass
class PanelObservation:
    """Everything the crawler saw of one panel except its pixels."""

    token: str
    round_token: str
    url_path: str
    position: int
    panels_on_page: int
    round_number: int
    # The page source around the <img> tag; panel, round and CSRF tokens replaced by markers.
    context_before: str
    tag: str
    context_after: str
    status: int
    headers: dict[str, str]
    body_length: int
    content_type: str
    png_chunks: list[str]
    ihdr: dict[str, int]
    trailing_bytes: int
    image_format: str
    image_mode: str
    width: int
    height: int
    ttfb_first_s: float
    ttfb_repeat_s: float
    repeat_status: int
    repeat_length: int
    repeat_headers_same: bool
    # The panel's viewer rendition (an untimed round's data-viewer link), described as the
    # panel is (describe_file, plus "ttfb_s"); None where the page offers no viewer.
    viewer: dict | None = None


def header_map(response: Response) -> dict[str, str]:
    # Date is the only header that may honestly differ between two fetches of one file.
    return {name.lower(): value for name, value in response.headers if name.lower() != "date"}


def describe_file(response: Response) -> dict:
    data = response.body
    chunks, ihdr, trailing = _png_layout(data)
    try:
        with PILImage.open(BytesIO(data)) as image:
            image_format, image_mode, (width, height) = image.format or "", image.mode, image.size
    except Exception:  # not an image at all: that, too, is a feature
        image_format, image_mode, width, height = "unreadable", "", 0, 0
    if ihdr:
        width, height = ihdr["width"], ihdr["height"]
    return {
        "status": response.status,
        "headers": header_map(response),
        "body_length": len(data),
        "content_type": response.header("Content-Type"),
        "png_chunks": chunks,
        "ihdr": ihdr,
        "trailing_bytes": trailing,
        "image_format": image_format,
        "image_mode": image_mode,
        "width": width,
        "height": height,
    }


def _png_layout(data: bytes) -> tuple[list[str], dict[str, int], int]:
    """Chunk types in order, the IHDR fields, and the bytes after IEND (all empty if not PNG)."""
    if not data.startswith(_PNG_SIGNATURE):
        return [], {}, 0
    chunks: list[str] = []
    ihdr: dict[str, int] = {}
    offset = len(_PNG_SIGNATURE)
    while offset + 8 <= len(data):
        length = int.from_bytes(data[offset : offset + 4], "big")
        kind = data[offset + 4 : offset + 8].decode("latin-1")
        chunks.append(kind)
        if kind == "IHDR" and length == 13:
            fields = struct.unpack(">IIBBBBB", data[offset + 8 : offset + 21])
            names = (
                "width",
                "height",
                "bit_depth",
                "color_type",
                "compression",
                "filter",
                "interlace",
            )
            ihdr = dict(zip(names, fields, strict=True))
        offset += 12 + length
        if kind == "IEND":
            break
    return chunks, ihdr, max(0, len(data) - offset)
