import functools
import http.server
import io
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage

from quiz.ingest.sample_data import SAMPLE_NAMES, SampleFetchError, fetch_samples

SHARED_MUSCLE = Path(__file__).resolve().parents[4] / "shared" / "data" / "muscle-us"


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args) -> None:
        pass


@pytest.fixture
def served(tmp_path):
    """A local web server standing in for raw.githubusercontent.com: (folder served, base URL)."""
    root = tmp_path / "served"
    root.mkdir()
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}/repo"
    server.shutdown()
    server.server_close()


def _tif(seed: int) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 256, (64, 80), dtype=np.uint8)
    buffer = io.BytesIO()
    PILImage.fromarray(pixels).save(buffer, format="TIFF")
    return buffer.getvalue()


def _serve(root: Path, name: str, data: bytes) -> None:
    target = root / "repo" / name
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)


def test_samples_are_downloaded_into_their_folders(served, tmp_path):
    root, url = served
    names = ["apo_images/img_00001.tif", "fasc_images_S/img_00002.tif"]
    for seed, name in enumerate(names):
        _serve(root, name, _tif(seed))
    paths = fetch_samples(tmp_path / "dest", base_url=url, names=names)
    assert paths == [tmp_path / "dest" / name for name in names]
    assert paths[0].read_bytes() == _tif(0)


def test_real_sample_images_round_trip(served, tmp_path):
    source = SHARED_MUSCLE / "images" / "dlt_apo_img_00001.png"
    if not source.exists():
        pytest.skip(f"real test images not found at {source.parent} (../shared/data is absent)")
    root, url = served
    (root / "repo").mkdir()
    shutil.copy(source, root / "repo" / "scan.png")
    [path] = fetch_samples(tmp_path / "dest", base_url=url, names=["scan.png"])
    assert path.read_bytes() == source.read_bytes()


def test_files_already_present_are_not_fetched_again(served, tmp_path):
    _, url = served  # serves nothing: any request would fail
    (tmp_path / "dest" / "apo_images").mkdir(parents=True)
    (tmp_path / "dest" / "apo_images" / "img_00001.tif").write_bytes(b"kept")
    [path] = fetch_samples(tmp_path / "dest", base_url=url, names=["apo_images/img_00001.tif"])
    assert path.read_bytes() == b"kept"


def test_a_missing_file_fails_naming_its_url(served, tmp_path):
    _, url = served
    with pytest.raises(SampleFetchError, match=rf"could not download {url}/gone\.tif: HTTP 404"):
        fetch_samples(tmp_path / "dest", base_url=url, names=["gone.tif"])


def test_a_corrupt_download_fails_and_is_not_kept(served, tmp_path):
    root, url = served
    _serve(root, "bad.tif", _tif(1)[:50])
    with pytest.raises(SampleFetchError, match=r"bad\.tif is not a readable image"):
        fetch_samples(tmp_path / "dest", base_url=url, names=["bad.tif"])
    assert not (tmp_path / "dest" / "bad.tif").exists()


def test_an_unreachable_server_fails_naming_the_url(tmp_path):
    # Port 9 on the loopback (discard) refuses connections on a machine without that service.
    url = "http://127.0.0.1:9/repo"
    with pytest.raises(
        SampleFetchError, match=r"could not download http://127\.0\.0\.1:9/repo/a\.tif"
    ):
        fetch_samples(tmp_path / "dest", base_url=url, names=["a.tif"], timeout=5)


def test_the_shipped_names_are_files_of_the_source_repository():
    manifest = SHARED_MUSCLE / "MANIFEST.csv"
    if not manifest.exists():
        pytest.skip(f"manifest not found at {manifest} (../shared/data is absent)")
    sources = {
        line.split(",")[1].split(" ", 1)[1] for line in manifest.read_text().splitlines()[1:]
    }
    assert 50 <= len(SAMPLE_NAMES) <= 70
    assert set(SAMPLE_NAMES) <= sources
