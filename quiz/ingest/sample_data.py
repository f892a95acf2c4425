"""Sample images for the demos.

The grey demo's images are downloaded from njcronin/DL_Track on GitHub: longitudinal B-mode scans
of lower-limb muscle (N. J. Cronin et al., arXiv:2009.04790; Apache-2.0), the same images as
../shared/data/muscle-us. Only their paths ship with the project.

The colour demo's images are drawn by `stained_tiles` below: no download, no third-party
licence (they are the project's own output).
"""

import io
import logging
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import quote

import numpy as np
import PIL.Image
from scipy import ndimage

log = logging.getLogger(__name__)

# A fixed commit of https://github.com/njcronin/DL_Track (a branch could move); the paths below
# are files in it.
DEFAULT_BASE_URL = (
    "https://raw.githubusercontent.com/njcronin/DL_Track/99ee21877d04bc288e83378d260963fe415da8c8/"
)
MAX_DOWNLOAD_BYTES = 20 * 1024 * 1024

# An even spread over the repository's apo_images (several scanners) and fasc_images_S.
SAMPLE_NAMES: tuple[str, ...] = (
    *(
        f"apo_images/img_{number:05d}.tif"
        for number in (
            1, 15, 29, 43, 57, 71, 85, 99, 113, 127, 141, 155, 169, 183, 197, 211, 225, 240, 254,
            268, 282, 296, 310, 324, 338, 352, 366, 380, 394, 408, 422, 436, 450, 464, 478, 492,
            506, 520, 556, 570,
        )
    ),
    *(
        f"fasc_images_S/img_{number:05d}.tif"
        for number in (
            2, 23, 46, 76, 90, 105, 119, 133, 147, 160, 208, 220, 231, 242, 253, 264, 275, 286,
            297, 308,
        )
    ),
)  # fmt: skip


class SampleFetchError(Exception):
    """A sample image could not be downloaded or is not an image."""


def fetch_samples(
    dest: Path,
    *,
    base_url: str = DEFAULT_BASE_URL,
    names: Sequence[str] = SAMPLE_NAMES,
    timeout: float = 30.0,
) -> list[Path]:
    """Download `names` (paths relative to `base_url`) into `dest`, keeping their folders.

    Files already in `dest` are not fetched again, so an interrupted run resumes where it stopped.
    Raises SampleFetchError naming the URL at the first download that fails or is not an image.
    """
    paths = []
    for name in names:
        target = dest / name
        if not target.exists():
            url = base_url.rstrip("/") + "/" + quote(name)
            data = _download(url, timeout)
            _check_image(data, url)
            target.parent.mkdir(parents=True, exist_ok=True)
            # Written under a temporary name first, so a half-written file never counts as present.
            partial = target.with_name(target.name + ".part")
            partial.write_bytes(data)
            partial.replace(target)
            log.info("downloaded %s", url)
        paths.append(target)
    return paths


def _download(url: str, timeout: float) -> bytes:
    request = urllib.request.Request(url, headers={"User-Agent": "real-or-synthetic sample fetch"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            data = response.read(MAX_DOWNLOAD_BYTES + 1)
    except urllib.error.HTTPError as exc:
        raise SampleFetchError(f"could not download {url}: HTTP {exc.code} {exc.reason}") from exc
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise SampleFetchError(f"could not download {url}: {reason}") from exc
    if len(data) > MAX_DOWNLOAD_BYTES:
        raise SampleFetchError(f"{url} is larger than {MAX_DOWNLOAD_BYTES // 1024 // 1024} MB")
    return data


def _check_image(data: bytes, url: str) -> None:
    try:
        with PIL.Image.open(io.BytesIO(data)) as image:
            image.load()
    except (PIL.UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise SampleFetchError(f"{url} is not a readable image ({exc})") from exc


# Colours of an H&E-like stain (RGB): eosin-pink stroma, haematoxylin-purple nuclei, and the
# near-white of empty space (lumen, fat).
_STROMA = np.array([232.0, 160.0, 196.0])
_NUCLEUS = np.array([84.0, 48.0, 140.0])
_LUMEN = np.array([246.0, 238.0, 242.0])


def stained_tiles(count: int, size: int = 64, seed: int = 0) -> list[np.ndarray]:
    """`count` uint8 size x size x 3 tiles that look like stained tissue under a microscope.

    A made-up colour image set for the colour demo, not a model of any tissue: each tile has a
    textured pink stroma, a few pale holes and 10 to 30 purple elliptical nuclei, all blurred a
    little as by a lens. The same seed gives the same tiles.
    """
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[0:size, 0:size].astype(np.float64)
    tiles = []
    for _ in range(count):
        # Low-frequency density of the stain, in [0.75, 1.15].
        density = ndimage.gaussian_filter(rng.standard_normal((size, size)), size / 10)
        density = 0.95 + 0.2 * density / (np.abs(density).max() or 1.0)
        lumen = np.zeros((size, size))
        for _ in range(rng.integers(0, 3)):
            lumen = np.maximum(lumen, _ellipse(rows, cols, rng, size, scale=(0.08, 0.2)))
        nuclei = np.zeros((size, size))
        for _ in range(rng.integers(10, 31)):
            nuclei = np.maximum(nuclei, _ellipse(rows, cols, rng, size, scale=(0.03, 0.07)))
        tint = 1.0 + rng.normal(0.0, 0.04, 3)  # the stain varies a little from slide to slide
        rgb = _STROMA * tint * density[..., None]
        rgb = rgb * (1 - lumen[..., None]) + _LUMEN * lumen[..., None]
        rgb = rgb * (1 - nuclei[..., None]) + _NUCLEUS * tint * nuclei[..., None]
        rgb = ndimage.gaussian_filter(rgb, sigma=(0.8, 0.8, 0)) + rng.normal(0, 4, rgb.shape)
        tiles.append(rgb.clip(0, 255).round().astype(np.uint8))
    return tiles


def _ellipse(rows, cols, rng, size: int, scale: tuple[float, float]) -> np.ndarray:
    """A soft-edged filled ellipse at a random place, size and angle: values in [0, 1]."""
    centre = rng.uniform(0, size, 2)
    radii = rng.uniform(*scale, 2) * size
    angle = rng.uniform(0, np.pi)
    dy, dx = rows - centre[0], cols - centre[1]
    u = (dx * np.cos(angle) + dy * np.sin(angle)) / radii[0]
    v = (-dx * np.sin(angle) + dy * np.cos(angle)) / radii[1]
    return np.clip((1.0 - np.hypot(u, v)) * 4, 0, 1)  # 1 inside, a quarter-radius soft edge
