"""The leak audit: take the quiz over HTTP as participants do, then try to tell real panels from
synthetic ones by everything a browser receives except the pixels.

A crawler consents, answers rounds at random and records, for every panel, its URL, position,
the page source around it, every response header, byte length, PNG chunk layout, dimensions
and time to first byte. A cross-validated classifier on those features estimates how well they
predict the panel's kind (ROC AUC, with a bootstrap 95% interval). A study whose panels differ
only in pixels scores about 0.5; docs/quiz-integrity.md describes each feature and the rule.

Before the crawl, the study's rules, the low-level cue audit of its pixels (quiz.integrity.
cue_audit: a cue from the study's own rendering refuses it, one in the generator's pixels is shown)
and the oracle check of its feedback policy (quiz.integrity.oracle_check: how many sessions'
pooled feedback reveal the truths) decide whether it may be published at all.

This module is the job (`audit`, the work of a LeakAudit row); its parts, in the order it uses
them: server (the site to crawl), crawl (with browser and observation: what is seen of each
panel), features, classifier, report.
"""

from __future__ import annotations

import math

import numpy as np
from django.db import transaction
from django.db.models import Q

from quiz.integrity.cue_audit import cue_audit
from quiz.integrity.leak_audit.classifier import AUC_MAX, AUC_UPPER_MAX, Classification, classify
from quiz.integrity.leak_audit.crawl import (
    DEFAULT_MAX_ROUNDS,
    DEFAULT_OBSERVATIONS,
    SEED,
    collect,
)
from quiz.integrity.leak_audit.features import features
from quiz.integrity.leak_audit.observation import PanelObservation
from quiz.integrity.leak_audit.report import summary
from quiz.integrity.leak_audit.server import site_to_crawl
from quiz.integrity.oracle_check import oracle_rule, study_oracle_check
from quiz.jobs import Lease
from quiz.models import ImageKind, LeakAudit, Participant, RoundPanel, Study
from quiz.studies.design import DesignError
from quiz.studies.panels import PanelRenderError, refresh_panel_size, render_study_panels
from quiz.studies.rules import near_copy_pairs, study_problems, study_warnings


def audit(
    audit: LeakAudit,
    lease: Lease,
    base_url: str | None = None,
    *,
    observations: int | None = None,
    max_rounds: int | None = None,
) -> None:
    """Audit the study: its rules, then the crawl and the classifier; publish on pass if asked.

    Crawls base_url, or a server started in this process when none is given. An error fails the
    audit with the reason, and the report keeps what was found before it.
    """
    study = audit.study
    report: dict = {"problems": [], "thresholds": {"auc": AUC_MAX, "ci95_upper": AUC_UPPER_MAX}}
    round_tokens: set[str] = set()
    passed = False
    try:
        with lease.kept_alive():
            # The memorisation guard's pairs are kept for the staff page that shows them.
            report["near_copies"] = near_copy_pairs(study)
            report["problems"] = study_problems(study, near_copies=report["near_copies"])
            report["warnings"] = study_warnings(study)
            # The panel size from every image, once more at publish, then what the pixels give
            # away: a cue of the study's own rendering refuses it like a rule.
            refresh_panel_size(study)
            report["low_level_cues"] = cue_audit(study)
            report["problems"] += report["low_level_cues"]["rendering_cues"]
            if not report["problems"]:
                try:
                    render_study_panels(study)
                except PanelRenderError as exc:
                    report["problems"].append(str(exc))
            crawl = not report["problems"]
            # Beside the crawl, not before it: staff see what is wrong with the policy and the
            # pages in one audit.
            _check_oracle(study, report)
            if crawl:
                with site_to_crawl(base_url) as (url, host):
                    result, summary = _crawl_and_classify(
                        study,
                        url,
                        host,
                        observations or DEFAULT_OBSERVATIONS,
                        max_rounds or DEFAULT_MAX_ROUNDS,
                        round_tokens,
                    )
                report.update(summary)
                passed = result.passed and not report["problems"]
    except Exception:
        lease.update(report=report)
        raise
    finally:
        _delete_audit_participants(study, round_tokens)
    with transaction.atomic():
        lease.update(passed=passed, report=report)
        if passed and audit.publish_on_pass:
            Study.objects.filter(pk=study.pk).update(is_published=True)


def _check_oracle(study: Study, report: dict) -> None:
    """The feedback policy's oracle check (quiz.integrity.oracle_check), into the report."""
    try:
        result = study_oracle_check(study)
    except DesignError:
        return  # the study cannot fill its sessions: study_problems has said so
    report["oracle"] = {**result.as_dict(), "summary": result.summary()}
    problems, warnings = oracle_rule(study, result)
    report["problems"] += problems
    report["warnings"] += warnings


def _crawl_and_classify(
    study: Study, url: str, host: str | None, wanted: int, max_rounds: int, round_tokens: set[str]
) -> tuple[Classification, dict]:
    labelled: list[tuple[PanelObservation, int, int]] = []
    crawled = 0
    # Practice and catch panels do not count: crawl again for the share they took.
    for attempt in range(3):
        kept_share = len(labelled) / crawled if crawled else 1.0
        batch = math.ceil((wanted - len(labelled)) / max(kept_share, 0.1))
        observed = collect(
            url,
            study,
            observations=batch,
            max_rounds=max_rounds,
            host=host,
            round_tokens=round_tokens,
            seed=SEED + attempt,
        )
        crawled += len(observed)
        labelled += _label(observed)
        if len(labelled) >= wanted:
            break
    labelled = labelled[:wanted]
    matrix = features([o for o, _, _ in labelled])
    y = np.array([kind for _, kind, _ in labelled])
    image_ids = np.array([image for _, _, image in labelled])
    result = classify(matrix, y, image_ids)
    return result, summary(result, matrix, y, image_ids)


def _label(observations: list[PanelObservation]) -> list[tuple[PanelObservation, int, int]]:
    """(observation, 1 if real else 0, image id) for the test trials; practice and catch dropped."""
    truth = {
        token: (kind, image_id)
        for token, kind, image_id in RoundPanel.objects.filter(
            token__in=[o.token for o in observations], is_catch=False, round__is_practice=False
        ).values_list("token", "image__kind", "image_id")
    }
    return [
        (o, int(truth[o.token][0] == ImageKind.REAL), truth[o.token][1])
        for o in observations
        if o.token in truth
    ]


def _delete_audit_participants(study: Study, round_tokens: set[str]) -> None:
    # Rows the start view marked, and any session the crawler drove (a view that does not yet
    # mark audit participants still leaves none behind).
    ids = set(
        Participant.objects.filter(study=study)
        .filter(Q(is_audit=True) | Q(rounds__token__in=round_tokens))
        .values_list("pk", flat=True)
    )
    Participant.objects.filter(pk__in=ids).delete()
