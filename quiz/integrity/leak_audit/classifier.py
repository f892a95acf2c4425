"""The pixel-free classifier: how well the features predict a panel's kind, as a cross-validated
ROC AUC with a bootstrap 95% interval, overall and for each feature group alone."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from quiz.integrity.leak_audit.errors import AuditError
from quiz.integrity.leak_audit.features import FEATURE_GROUPS, FeatureMatrix
from quiz.integrity.roc import auc as _auc
from quiz.integrity.roc import bootstrap_ci as _bootstrap_ci

# The rule a study must meet: the classifier's cross-validated AUC is at most AUC_MAX and the
# upper end of its 95% interval at most AUC_UPPER_MAX.
AUC_MAX = 0.55
AUC_UPPER_MAX = 0.60
CV_FOLDS = 5
# Folds are drawn from it: one crawl's observations give one result.
SEED = 0


@dataclass
class Classification:
    auc: float
    ci95: tuple[float, float]
    by_group: dict[str, float | None]
    observations: int

    @property
    def passed(self) -> bool:
        return self.auc <= AUC_MAX and self.ci95[1] <= AUC_UPPER_MAX


def classify(matrix: FeatureMatrix, y: np.ndarray, groups_by_image: np.ndarray) -> Classification:
    """Cross-validated ROC AUC of predicting y (1 = real) from the features, with a 95% CI.

    Folds hold out whole images, so a per-image constant (a hash, an id) cannot be memorised:
    only what generalises to unseen images of a kind counts as a leak. The interval is a
    percentile bootstrap over observations of the out-of-fold scores. Each feature group is
    also scored alone, so a failure names the channel that leaks.
    """
    y = np.asarray(y, dtype=int)
    groups_by_image = np.asarray(groups_by_image)
    scores = _out_of_fold_scores(matrix.X, y, groups_by_image)
    auc = _auc(y, scores)
    ci95 = _bootstrap_ci(y, scores)
    by_group: dict[str, float | None] = {}
    for group in FEATURE_GROUPS:
        columns = [i for i, g in enumerate(matrix.groups) if g == group]
        if columns:
            by_group[group] = _auc(y, _out_of_fold_scores(matrix.X[:, columns], y, groups_by_image))
        else:
            by_group[group] = None  # constant over every panel: it cannot separate anything
    return Classification(auc=auc, ci95=ci95, by_group=by_group, observations=len(y))


def _out_of_fold_scores(X: np.ndarray, y: np.ndarray, image_ids: np.ndarray) -> np.ndarray:
    per_class = min(len(set(image_ids[y == 1])), len(set(image_ids[y == 0])))
    if per_class < 2:
        raise AuditError("the audit needs panels of at least two real and two synthetic images")
    # Imported here: scikit-learn loads scipy, which only the process that audits needs
    # (tests/quiz/web/test_web_process_imports.py keeps the web process light).
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.model_selection import StratifiedGroupKFold

    scores = np.full(len(y), 0.5)
    if X.shape[1] == 0:
        return scores
    folds = StratifiedGroupKFold(n_splits=min(CV_FOLDS, per_class), shuffle=True, random_state=SEED)
    for train, test in folds.split(X, y, image_ids):
        # 50 trees: fitting is mostly per-tree overhead at these sizes, and more trees barely
        # move the AUC; one job, since threads cost more than they save on a few thousand rows.
        model = RandomForestClassifier(
            n_estimators=50, min_samples_leaf=2, random_state=SEED, n_jobs=1
        )
        model.fit(X[train], y[train])
        scores[test] = model.predict_proba(X[test])[:, 1]
    return scores
