"""How well low-level features tell the classes apart: a cross-validated ROC AUC with a
bootstrap 95% interval, for all features together and for each alone.

The leak audit's approach (quiz.integrity.leak_audit.classifier) on one row per image: out-of-fold
scores from stratified K-fold, the AUC and its percentile bootstrap from quiz.integrity.roc. The
model is a logistic regression on standardized features rather than a forest: each feature is
one interpretable number, and a monotone cue is what a participant could use.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from quiz.integrity.roc import auc, bootstrap_ci

CV_FOLDS = 5
SEED = 0


@dataclass(frozen=True)
class Separation:
    auc: float
    ci95: tuple[float, float]

    def as_dict(self) -> dict:
        return {"auc": round(self.auc, 4), "ci95": [round(self.ci95[0], 4), round(self.ci95[1], 4)]}


def separation(X: np.ndarray, y: np.ndarray, comparisons: int = 1) -> Separation | None:
    """Cross-validated AUC of predicting y (1 = real) from the columns of X, with its 95% CI.

    With `comparisons` > 1 (each of several features scored alone) the interval is widened by
    Bonferroni, so that the intervals hold together: otherwise one feature in eight would
    "separate" the classes by chance about a third of the time.
    None where no column varies (nothing can separate) or a class has fewer than two rows.
    """
    scores = out_of_fold_scores(X, y)
    if scores is None:
        return None
    return Separation(auc=auc(y, scores), ci95=bootstrap_ci(y, scores, 1 - 0.05 / comparisons))


def out_of_fold_scores(X: np.ndarray, y: np.ndarray) -> np.ndarray | None:
    # scikit-learn loads scipy: only the auditing process imports it (the web process stays light).
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X = np.asarray(X, dtype=np.float64).reshape(len(y), -1)
    y = np.asarray(y, dtype=int)
    per_class = min(int(y.sum()), int(len(y) - y.sum()))
    finite = np.all(np.isfinite(X), axis=0)
    varying = finite & (np.ptp(np.where(np.isfinite(X), X, 0), axis=0) > 0)
    if per_class < 2 or not varying.any():
        return None
    X = X[:, varying]
    scores = np.empty(len(y))
    folds = StratifiedKFold(n_splits=min(CV_FOLDS, per_class), shuffle=True, random_state=SEED)
    for train, test in folds.split(X, y):
        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
        model.fit(X[train], y[train])
        scores[test] = model.predict_proba(X[test])[:, 1]
    return scores
