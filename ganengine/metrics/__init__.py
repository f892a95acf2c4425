"""Offline evaluation of generated images: KID/FID, a classifier two-sample test, memorisation.

Every metric takes uint8 [N, H, W] grey or [N, H, W, 3] RGB images.

Django-free like the rest of ganengine; `evaluate` combines the parts into one JSON report.
"""

from ganengine.metrics.c2st import (
    C2STResult,
    ObserverResult,
    classifier_two_sample_test,
    roc_auc,
)
from ganengine.metrics.distances import FIDResult, KIDResult, fid, kid
from ganengine.metrics.evaluate import METRICS, evaluate
from ganengine.metrics.inception import (
    InceptionWeightsError,
    inception_features,
    load_inception,
    weights_path,
)
from ganengine.metrics.memorisation import (
    NEAR_COPY_RATIO,
    Match,
    near_copies,
    nearest_training_images,
)

__all__ = [
    "METRICS",
    "NEAR_COPY_RATIO",
    "C2STResult",
    "FIDResult",
    "InceptionWeightsError",
    "KIDResult",
    "Match",
    "ObserverResult",
    "classifier_two_sample_test",
    "evaluate",
    "fid",
    "inception_features",
    "kid",
    "load_inception",
    "near_copies",
    "nearest_training_images",
    "roc_auc",
    "weights_path",
]
