"""Issue 11's planted inputs through ingest, file by file: what each becomes, and how fast.

    python -m benchmarks.ingest_cases write DIR     # the planted files (this tree's builders)
    python benchmarks/ingest_cases.py run DIR       # each through the ingest pipeline of the
                                                    # tree in the current directory

`write` builds the inputs the issue lists: pydicom's ultrasound DICOMs (palette, YBR cine loop,
colour Doppler in RGB and JPEG 2000) and two other modalities, phantom screens with a colour
Doppler box, a sector, a steered field and a white border with a bottom ruler, an application
window, a four-pane viewer, a 3-D render and an MRI slice saved as PNG, a zip with a `../../`
member, a 16-bit scan with and without one hot pixel, a TIFF whose first page is a 40x40
thumbnail, an animated PNG, a 40-frame ultrasound DICOM and the 1024x1024 one-pixel checkerboard.

`run` imports nothing of `benchmarks`, so it runs against any revision's ingest: for the
"before", check that revision out beside this one (`git worktree add ../before 252739c`) and run
this file from there, e.g. `cd ../before && python ../main/benchmarks/ingest_cases.py run DIR`.
For each file it prints the seconds and what came out: images (size, flags), notes, skips and
rejections; for the 16-bit scans, the output's standard deviation.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import PIL.Image

PYDICOM_FILES = (
    "examples_palette.dcm",
    "examples_ybr_color.dcm",
    "examples_rgb_color.dcm",
    "examples_jpeg2k.dcm",
    "MR_small_jpeg_ls_lossless.dcm",
    "MR_small.dcm",
)


def _png(pixels: np.ndarray, **options) -> bytes:
    buffer = io.BytesIO()
    PIL.Image.fromarray(pixels).save(buffer, format="PNG", **options)
    return buffer.getvalue()


def _noise(seed: int, size: tuple[int, int]) -> np.ndarray:
    return np.random.default_rng(seed).integers(20, 230, size, dtype=np.uint8)


def write(folder: Path) -> None:
    from pydicom.data import get_testdata_file

    from tests.dicoms import ultrasound_dicom
    from tests.phantoms import scanner_screen, staircase
    from tests.quiz.ingest.test_bmode_check import (
        application_window,
        dicom_pixels,
        four_pane_viewer,
        sphere_render,
        upscaled,
    )

    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for index, name in enumerate(PYDICOM_FILES):
        shutil.copy(get_testdata_file(name), folder / f"0{index}-{name}")
    phantoms = {
        "10-doppler-box.png": scanner_screen(7, doppler=True),
        "11-sector.png": scanner_screen(3, shape="sector"),
        "12-steered.png": scanner_screen(4, shape="parallelogram"),
        "13-white-border-bottom-ruler.png": scanner_screen(5, white_border=True, ruler="bottom"),
    }
    for name, phantom in phantoms.items():
        width = int(phantom.field.any(axis=0).sum())
        (folder / name.replace(".png", f"-field-{width}-wide.png")).write_bytes(
            _png(phantom.frames[0])
        )
    mri, _ = dicom_pixels("MR_small.dcm")
    screenshots = {
        "20-application-window.png": application_window(),
        "21-four-pane-viewer.png": four_pane_viewer(),
        "22-3d-render.png": sphere_render(),
        "23-mri-slice.png": upscaled(mri, 512),
    }
    for name, pixels in screenshots.items():
        (folder / name).write_bytes(_png(pixels))
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as members:
        members.writestr("../../x.png", _png(_noise(1, (120, 160))))
        members.writestr("ok.png", _png(_noise(2, (120, 160))))
    (folder / "30-zip-with-dotdot-member.zip").write_bytes(archive.getvalue())
    scan = np.random.default_rng(0).integers(20, 230, (300, 400)).astype(np.uint16) * 200
    hot = scan.copy()
    hot[5, 5] = 65535
    (folder / "31-16bit.png").write_bytes(_png(scan))
    (folder / "32-16bit-one-hot-pixel.png").write_bytes(_png(hot))
    pages = [PIL.Image.fromarray(_noise(9, (40, 40)))]
    pages += [PIL.Image.fromarray(_noise(seed, (300, 400))) for seed in range(3)]
    tiff = io.BytesIO()
    pages[0].save(tiff, format="TIFF", save_all=True, append_images=pages[1:])
    (folder / "33-tiff-thumbnail-then-3-pages.tif").write_bytes(tiff.getvalue())
    apng = io.BytesIO()
    pages[1].save(apng, format="PNG", save_all=True, append_images=pages[2:])
    (folder / "34-apng-3-frames.png").write_bytes(apng.getvalue())
    loop = np.stack([_noise(100 + k, (120, 160)) for k in range(40)])
    (folder / "35-us-dicom-40-frames.dcm").write_bytes(ultrasound_dicom(loop, frames=40))
    (folder / "40-checkerboard-1024.png").write_bytes(_png(staircase()))
    print(f"{len(list(folder.iterdir()))} files in {folder}")


def run(folder: Path) -> None:
    sys.path.insert(0, os.getcwd())  # the tree under test, not this file's
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")
    import django

    django.setup()
    from quiz.ingest.pipeline import ingest_files

    for path in sorted(folder.iterdir()):
        started = time.perf_counter()
        items = list(ingest_files([(path.name, path.read_bytes())]))
        seconds = time.perf_counter() - started
        outcomes = []
        for item in items:
            if type(item).__name__ != "IngestedImage":
                outcomes.append(f"{type(item).__name__}: {item.reason[:80]}")
                continue
            height, width = item.pixels.shape
            outcome = f"image {width}x{height}"
            if "16bit" in path.name:
                outcome += f" std {item.pixels.std():.0f}"
            flags = [flag.code for flag in getattr(item, "flags", [])]
            outcomes.append(outcome + (f" {flags}" if flags else ""))
        shown = " | ".join(outcomes[:3]) + (f" ... ({len(items)} items)" if len(items) > 3 else "")
        print(f"{path.name:42} {seconds:6.2f} s  {shown}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["write", "run"])
    parser.add_argument("folder", type=Path)
    args = parser.parse_args()
    if args.command == "write":
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")
        import django

        django.setup()
        write(args.folder)
    else:
        run(args.folder)


if __name__ == "__main__":
    main()
