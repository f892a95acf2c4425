import numpy as np
import pytest

from ganengine.images import to_uint8
from ganengine.metrics import NEAR_COPY_RATIO, near_copies, nearest_training_images
from tests.ganengine.toy import band_images


@pytest.fixture(scope="module")
def training() -> np.ndarray:
    return to_uint8(band_images(50, seed=1))


def test_an_exact_copy_is_found_with_ratio_zero(training: np.ndarray) -> None:
    generated = np.stack([training[7], to_uint8(band_images(1, seed=9))[0]])
    copy, novel = nearest_training_images(generated, training)
    assert (copy.index, copy.nearest_index, copy.distance, copy.ratio) == (0, 7, 0.0, 0.0)
    assert copy.second_distance > 0
    assert copy.is_near_copy()
    assert not novel.is_near_copy()
    assert near_copies([copy, novel]) == [copy]


def test_a_slightly_noisy_copy_is_flagged(training: np.ndarray) -> None:
    noise = np.random.default_rng(0).integers(-6, 7, training[3].shape)
    noisy = (training[3].astype(int) + noise).clip(0, 255).astype(np.uint8)
    (match,) = nearest_training_images(noisy[None], training)
    assert match.nearest_index == 3
    assert 0 < match.ratio < NEAR_COPY_RATIO


def test_distinct_images_are_not_flagged() -> None:
    # Unrelated images sit about equally far from all training images: ratios near 1. (Fresh toy
    # band images are no good here: a band at the same depth as one training image's and new
    # speckle is a near-copy by design of that toy, which has only 22 band depths.)
    rng = np.random.default_rng(5)
    training = rng.integers(0, 256, (50, 64, 48), dtype=np.uint8)
    matches = nearest_training_images(rng.integers(0, 256, (20, 64, 48), dtype=np.uint8), training)
    assert len(matches) == 20
    assert near_copies(matches) == []
    assert all(m.distance <= m.second_distance for m in matches)


def test_chunking_does_not_change_the_matches(training: np.ndarray) -> None:
    generated = to_uint8(band_images(9, seed=3))
    assert nearest_training_images(generated, training, chunk_size=2) == nearest_training_images(
        generated, training
    )


def test_feature_vectors_can_replace_pixels() -> None:
    training = np.array([[1.0, 0.0], [0.0, 1.0], [3.0, 3.0]])
    generated = np.array([[2.0, 0.1], [0.0, 1.0]])
    by_direction = nearest_training_images(generated, training, metric="cosine")
    assert [m.nearest_index for m in by_direction] == [0, 1]
    assert by_direction[1].ratio == 0.0
    by_l2 = nearest_training_images(generated, training)
    assert by_l2[0].nearest_index == 0
    assert by_l2[0].distance == pytest.approx(np.hypot(1.0, 0.1), rel=1e-6)


def test_bad_inputs_are_rejected(training: np.ndarray) -> None:
    with pytest.raises(ValueError, match="at least 2 training images"):
        nearest_training_images(training[:1], training[:1])
    with pytest.raises(ValueError, match="images or float \\[N, D\\] features"):
        nearest_training_images(training.astype(np.int32), training)
    with pytest.raises(ValueError, match="metric"):
        nearest_training_images(training, training, metric="manhattan")


def test_a_copy_of_a_frame_with_a_near_duplicate_is_flagged_by_relative_distance() -> None:
    # Ultrasound sets hold near-duplicate frames: copying one leaves both neighbours close, so the
    # ratio is near 1 and only the distance relative to the set's typical spacing gives it away.
    rng = np.random.default_rng(7)
    training = rng.integers(0, 256, (40, 64, 48), dtype=np.uint8)
    training[1] = (training[0].astype(int) + rng.integers(-3, 4, (64, 48))).clip(0, 255)
    copy = (training[0].astype(int) + rng.integers(-3, 4, (64, 48))).clip(0, 255)
    (match,) = nearest_training_images(copy[None].astype(np.uint8), training)
    assert match.ratio > NEAR_COPY_RATIO
    assert match.relative_distance < 0.1
    assert match.is_near_copy()
    assert near_copies([match]) == [match]
