"""The audit's report: the classifier's result as the JSON kept on the LeakAudit row, and the
row as lines of text for the command line and logs."""

from __future__ import annotations

import numpy as np

from quiz.integrity.cue_audit import describe_cues
from quiz.integrity.leak_audit.classifier import Classification
from quiz.integrity.leak_audit.features import FeatureMatrix
from quiz.models import LeakAudit

# A group's own classifier above this AUC is named in the report as separating the classes.
GROUP_FINDING_AUC = 0.6


def summary(
    result: Classification, matrix: FeatureMatrix, y: np.ndarray, image_ids: np.ndarray
) -> dict:
    """The classifier's part of the report: AUC and interval, what was observed, each group's
    own AUC, and a finding for each group that separates the kinds."""
    findings = [
        f"{group} separates real from synthetic panels: AUC {auc:.2f}"
        for group, auc in sorted(result.by_group.items(), key=lambda item: -(item[1] or 0))
        if auc is not None and auc > GROUP_FINDING_AUC
    ]
    return {
        "auc": round(result.auc, 4),
        "ci95": [round(result.ci95[0], 4), round(result.ci95[1], 4)],
        "observations": result.observations,
        "real": int(y.sum()),
        "synthetic": int(len(y) - y.sum()),
        "images": len(set(image_ids.tolist())),
        "columns": len(matrix.names),
        "by_group": {
            g: (round(a, 4) if a is not None else None) for g, a in result.by_group.items()
        },
        "findings": findings,
    }


def describe(audit: LeakAudit) -> list[str]:
    """The audit's result as lines of text, for the command line and logs."""
    report = audit.report or {}
    verdict = {True: "PASS", False: "FAIL"}.get(audit.passed, audit.status.upper())
    lines = [f"Leak audit of {audit.study}: {verdict}"]
    if audit.error:
        lines.append(f"  error: {audit.error}")
    lines += [f"  problem: {problem}" for problem in report.get("problems", [])]
    lines += [f"  warning: {warning}" for warning in report.get("warnings", [])]
    # Rendering cues are among the problems already.
    lines += [f"  {line}" for line in describe_cues(report.get("low_level_cues"), rendering=False)]
    if report.get("oracle"):
        lines.append(f"  {report['oracle']['summary']}")
    if report.get("auc") is not None:
        low, high = report["ci95"]
        thresholds = report["thresholds"]
        lines.append(
            f"  {report['observations']} panels ({report['real']} real, "
            f"{report['synthetic']} synthetic) of {report['images']} images, "
            f"{report['columns']} varying feature columns"
        )
        lines.append(
            f"  ROC AUC {report['auc']:.3f} (95% CI {low:.3f}–{high:.3f}); passes at "
            f"≤ {thresholds['auc']:.2f} with the upper bound ≤ {thresholds['ci95_upper']:.2f}"
        )
        lines.append("  AUC of each feature group alone:")
        for group, auc in report["by_group"].items():
            lines.append(f"    {group:<15} {'constant' if auc is None else f'{auc:.3f}'}")
        lines += [f"  {finding}" for finding in report.get("findings", [])]
    return lines
