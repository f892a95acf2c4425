"""A study's statistical report: the statistics over its test trials, with exclusions, cached.

The report is what the statistics page, `/stats/<slug>/report.json` and `manage.py study_report`
show. Computing it takes seconds for a large study (10,000 bootstrap resamples, a mixed model),
so it is cached per study under a key that changes whenever a trial arrives: no request ever
recomputes a report for trials it has already seen.

quiz.analysis.stats loads scipy and statsmodels; it is imported on first use, so that processes
which never draw a report (workers, the admin) do not pay for it.
"""

import platform
from collections.abc import Iterable, Mapping
from importlib.metadata import PackageNotFoundError, version

from django.core.cache import cache
from django.db.models import Count, Max

from quiz.analysis.trials import (
    Trial,
    catch_exclusions,
    external_ids,
    study_sessions,
    study_trials,
)
from quiz.models import (
    CountedSessions,
    Feedback,
    Guess,
    Participant,
    SessionState,
    Study,
    TrainingRun,
)
from quiz.studies.design import CHANCE
from quiz.studies.panels import study_sizing
from quiz.studies.rules import held_out_status

CACHE_SECONDS = 7 * 24 * 3600
_PACKAGES = ("numpy", "scipy", "statsmodels", "krippendorff", "Django")


def study_report(study: Study) -> dict:
    """The study's report, from the cache when no trial has arrived since it was computed.

    `held_out` is read afresh each time, beside the cached figures: a training manifest uploaded
    after the trials changes what the report may say about its real panels.
    """
    key = _cache_key(study)
    report = cache.get(key)
    if report is None:
        report = compute_report(list(study_trials(study)), study=study)
        cache.set(key, report, CACHE_SECONDS)
    # Per generator: were the real panels checked against what it trained on, or is it unknown?
    return {**report, "held_out": held_out_status(study)}


def _cache_key(study: Study) -> str:
    # Guesses are only ever added (a round is submitted once), so their count and latest id
    # name the state of the study's trials; a session changes state only when a round arrives,
    # but sessions without trials (abandoned) and withdrawals (a deleted participant) change the
    # session counts alone. Protocol fields are fixed once published.
    state = Guess.objects.filter(panel__round__participant__study=study).aggregate(
        n=Count("pk"), last=Max("pk")
    )
    sessions = Participant.objects.filter(study=study).aggregate(n=Count("pk"), last=Max("pk"))
    return (
        f"study-report:v2:{study.pk}:{state['n']}:{state['last']}:"
        f"{sessions['n']}:{sessions['last']}:"
        f"{study.catch_max_real}:{study.equivalence_margin}:{study.counted_sessions}"
    )


def compute_report(
    trials: list[Trial],
    *,
    study: Study | None = None,
    sessions: list[Participant] | None = None,
) -> dict:
    """The report of a study's trials (practice and catch trials are not test trials).

    With a study, its rule on which sessions count (Study.counted_sessions) applies: the figures
    are over the sessions it counts, and `sessions` gives the count of each state and the
    headline figures without the rule. `sessions`: the study's (trials.study_sessions), when the
    caller has read them already.
    """
    max_real = study.catch_max_real if study else 0
    margin = (
        study.equivalence_margin if study else Study._meta.get_field("equivalence_margin").default
    )
    exclusions = catch_exclusions(trials, max_real)
    excluded = {exclusion.participant_id for exclusion in exclusions}
    rows = [_row(trial) for trial in trials if trial.is_test]
    if study is not None:
        sessions = study_sessions(study) if sessions is None else sessions
        counted = _counted(sessions, study)
        every_session = rows
        rows = [row for row in rows if row["participant"] in counted]
    report = analyse([row for row in rows if row["participant"] not in excluded], margin=margin)
    report["exclusions"] = {
        "rule": f"exclude a participant who calls more than {max_real} catch image(s) real",
        "catch_trials": sum(trial.is_catch for trial in trials),
        "excluded": [
            {
                "participant": exclusion.participant_id,
                "catch_called_real": exclusion.catch_called_real,
                "catch_trials": exclusion.catch_trials,
            }
            for exclusion in exclusions
        ],
        # The headline figures with everyone, for the reader who doubts the rule.
        "without_exclusions": _headline(analyse(rows, margin=margin, model="none"))
        if exclusions
        else None,
    }
    if study is not None:
        report["sessions"] = _sessions_block(study, sessions, counted, every_session, excluded)
        _add_identities(report, sessions)
        _add_machine_observer(report, study)
        report["study"] = {
            "slug": study.slug,
            "name": study.name,
            "layout": study.layout,
            "feedback": study.feedback,
            "feedback_label": Feedback(study.feedback).label,
            "oracle_risk_acknowledgement": study.oracle_risk_acknowledgement.strip(),
            "mixed_modes_acknowledgement": study.mixed_modes_acknowledgement.strip(),
            "oracle_check": _latest_oracle_check(study),
            "exposure_ms": study.exposure_ms,
            "rating_points": study.rating_points,
            "adaptive_exposure": study.adaptive_exposure,
            "panels_per_round": study.panels_per_round,
            "panel_size": study.panel_size,
            "panels": study_sizing(study).note,
        }
        report["low_level_cues"] = _latest_cues(study)
    return report


def _counted(sessions: list[Participant], study: Study) -> set[int]:
    states = CountedSessions(study.counted_sessions).states
    return {participant.pk for participant in sessions if participant.state in states}


SESSION_DEFINITIONS = {
    SessionState.FINISHED: "every test round of the session's design submitted",
    SessionState.PARTIAL: "at least one test round submitted, not finished",
    SessionState.ABANDONED: "consented, no test round submitted",
}


def _sessions_block(
    study: Study,
    sessions: list[Participant],
    counted: set[int],
    every_session: list[dict],
    excluded: set[int],
) -> dict:
    """How many sessions of each state, which the rule counts, and the figures without it."""
    rule = CountedSessions(study.counted_sessions)
    counts = {state.value: 0 for state in SessionState}
    for participant in sessions:
        counts[participant.state.value] += 1
    # Without the rule: every session with test trials, the catch rule still applied.
    without = (
        _headline(
            analyse(
                [row for row in every_session if row["participant"] not in excluded],
                margin=study.equivalence_margin,
                model="none",
            )
        )
        if rule != CountedSessions.FINISHED_AND_PARTIAL and counts[SessionState.PARTIAL]
        else None
    )
    return {
        "rule": rule.value,
        "rule_label": rule.label,
        "definitions": {state.value: text for state, text in SESSION_DEFINITIONS.items()},
        "started": len(sessions),
        "counts": counts,
        "counted": len(counted),
        "pilot_sessions_not_counted": Participant.objects.filter(
            study=study, is_pilot=True
        ).count(),
        "without_rule": without,
    }


def _add_identities(report: dict, sessions: list[Participant]) -> None:
    """Each participant row gets its session's state and the recruitment platform's ids (which
    the statistics views blank for anyone but staff: see quiz.views.stats)."""
    by_pk = {participant.pk: participant for participant in sessions}
    for row in report["per_participant"]:
        participant = by_pk.get(row["participant"])
        if participant is not None:
            row["session_state"] = participant.state.value
            row.update(external_ids(participant, identities=True))


def _latest_oracle_check(study: Study) -> str | None:
    """The oracle check's finding in the study's latest audit that ran it."""
    for report in study.audits.order_by("-pk").values_list("report", flat=True):
        if (report or {}).get("oracle"):
            return report["oracle"]["summary"]
    return None


def _latest_cues(study: Study) -> dict | None:
    """The low-level cue audit of the study's latest audit that ran it: "what gives it away"."""
    for report in study.audits.order_by("-pk").values_list("report", flat=True):
        if (report or {}).get("low_level_cues"):
            return report["low_level_cues"]
    return None


def _add_machine_observer(report: dict, study: Study) -> None:
    """Each run's KID and C2ST AUC (its EvaluationJob's result) beside its human fooling rate.

    Only a generator trained here has them; one trained elsewhere has None.
    """
    runs = TrainingRun.objects.filter(images__studies=study).distinct()
    evaluations = {_run_key(run.name, run.pk): run.evaluation for run in runs}
    for row in report["by_generator"]:
        row["machine_observer"] = evaluations.get(row["training_run"]) or None


def _run_key(name: str | None, pk: int) -> str:
    # Run names need not be unique: the id keeps two runs of one name apart.
    return f"{name} (run #{pk})"


def analyse(rows: Iterable[Mapping], *, margin: float, model: str = "auto") -> dict:
    from quiz.analysis import stats

    report = stats.report(list(rows), chance=CHANCE, margin=margin, model=model)
    report["design"] = {
        "chance": CHANCE,
        "rule": "each test trial is real with probability 1/2 (docs/study-design.md)",
    }
    report["software"] = software_versions()
    return report


def _headline(report: dict) -> dict:
    from quiz.analysis.stats.headline import FIGURES

    return {key: report[key] for key in ("participants", "trials", *FIGURES)}


def _row(trial: Trial) -> dict:
    return {
        "participant": trial.participant_id,
        "image": trial.image_id,
        "true_label": trial.truth,
        "answer": trial.answer,
        "expertise": trial.expertise,
        "training_run": (
            _run_key(trial.training_run_name, trial.training_run_id)
            if trial.training_run_id is not None
            else None
        ),
        "generator": trial.generator_name,
        "checkpoint_step": trial.checkpoint_step,
        "round": trial.round_index + 1,
        "letter": trial.letter,
        "response_ms": trial.response_ms,
        # A rated trial's confidence rating: the report's `roc` block is computed from these.
        "rating": trial.rating,
        "layout": trial.layout,
        "synthetic_side": trial.synthetic_side,
        "staircase": trial.staircase_name,
        "exposure_limit_ms": trial.exposure_limit_ms,
    }


def software_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for package in _PACKAGES:
        try:
            versions[package] = version(package)
        except PackageNotFoundError:
            continue
    return versions


def methods_paragraph(report: dict) -> str:
    """A methods paragraph a paper can start from: design, n, tests, intervals, software."""
    settings = report["settings"]
    software = report["software"]
    model = report["model"]
    study = report.get("study") or {}
    exclusions = report.get("exclusions") or {}
    excluded = len(exclusions.get("excluded") or [])
    timing = (
        "exposure adapted to each participant by a 3-down/1-up staircase per generator "
        "(HYPE-time, Zhou et al. 2019)"
        if study.get("adaptive_exposure")
        else f"each image was shown for {study['exposure_ms']} ms"
        if study.get("exposure_ms")
        else "images were shown until answered"
    )
    paired = report.get("task") == "2afc"
    shown = (
        "side by side, one real and one synthetic image per pair, choosing the real one"
        if paired
        else "one at a time"
        if study.get("layout") == "single"
        else "in grids of panels"
    )
    design = (
        "Each pair held one real and one synthetic image, the synthetic one on the left in half "
        "of each participant's pairs (in random order)"
        if paired
        else "Each trial was real with probability 1/2, independently of the image pools"
    )
    sensitivity = (
        "In this two-alternative forced choice, accuracy is the proportion of pairs whose real "
        "image was chosen (criterion-free, chance 50%), the fooling rate its complement, and "
        "d′ = √2·z(PC) with the log-linear correction. "
        if paired
        else "Sensitivity d′ and criterion c treat synthetic images as the signal, with the "
        "log-linear correction. "
    )
    return (
        _sessions_sentence(report.get("sessions"))
        + f"{report['participants']} participants judged {report['trials']} "
        + ("pairs" if paired else "images")
        + f" ({report['images']} distinct {'synthetic images' if paired else 'images'}) "
        + ("" if paired else "as real or synthetic ")
        + f"({shown}; {timing}"
        + (f"; {study['panels']}" if study.get("panels") else "")
        + ")"
        + (
            ". The investigators accepted the mix of grey and colour images before data "
            f"collection: “{study['mixed_modes_acknowledgement']}”"
            if study.get("mixed_modes_acknowledgement")
            else ""
        )
        + f". {design}, and no participant saw an image twice; practice and catch trials were "
        "not analysed"
        + (
            f", and {excluded} participant(s) were excluded by a rule fixed before data "
            f"collection ({exclusions.get('rule')})"
            if excluded
            else ""
        )
        + ". The participant was the unit of analysis: each figure is the mean of the "
        "participants' own figures, with a 95% confidence interval from a participant-level "
        f"(cluster) bootstrap ({settings['n_resamples']:,} resamples, percentile method) and a "
        "one-sample t-test over participants against chance (50%). "
        + sensitivity
        + "Equivalence to chance was tested by two one-sided tests (TOST) with a margin of "
        f"±{settings['margin']:.0%}. "
        + _hype_time_sentence(report)
        + _generators_sentence(report)
        + f"Effects of expertise and of the generator were estimated with {model['description']}. "
        f"Agreement between participants: {report['agreement'].get('method', 'not computed')}. "
        "Per-image rates were tested against 50% with exact binomial tests, adjusted by "
        "Benjamini–Hochberg. "
        + _feedback_sentence(study)
        + _held_out_sentence(report.get("held_out") or [])
        + "Software: "
        + ", ".join(f"{name} {version}" for name, version in software.items())
        + "."
    )


def _hype_time_sentence(report: dict) -> str:
    """Each generator's HYPE-time, when exposure adapted."""
    hype = report.get("hype_time")
    if not hype:
        return ""
    parts = [
        f"“{row['generator']}” {row['estimate_ms']:.0f} ms"
        + (f" (95% CI {row['ci95_ms'][0]:.0f}–{row['ci95_ms'][1]:.0f})" if row["ci95_ms"] else "")
        for row in hype["by_generator"]
        if row["estimate_ms"] is not None
    ]
    return (
        "HYPE-time, each participant's modal exposure on a generator's staircase averaged over "
        "participants: " + "; ".join(parts) + ". "
        if parts
        else ""
    )


def _held_out_sentence(held_out: list[dict]) -> str:
    """Whether the real images were held out from each generator's training, or it is unknown."""
    checked = [item["generator"] for item in held_out if item["held_out"] == "checked"]
    unknown = [item["generator"] for item in held_out if item["held_out"] == "unknown"]
    sentence = ""
    if checked:
        sentence += (
            "No real image shown was among the training images of "
            + _names(checked)
            + " (checked against each generator's record of its training set). "
        )
    if unknown:
        sentence += (
            "Whether the real images were among the training images of "
            + _names(unknown)
            + " is unknown: no training manifest was given. "
        )
    return sentence


def _names(names: list[str]) -> str:
    quoted = [f"“{name}”" for name in names]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]


def _generators_sentence(report: dict) -> str:
    """How the generators were compared, when the study had more than one."""
    names = [str(row["generator"]) for row in report.get("by_generator") or []]
    if len(names) < 2:
        return ""
    return (
        f"Synthetic images came from {len(names)} generators ({', '.join(names)}); each "
        "session showed every generator's images equally often, as far as their number allowed. "
        "Each generator's figures were computed as the headline's, against the real panels, and "
        "the generators' fooling rates were compared pair by pair within participant (paired "
        "t-tests, Holm-adjusted over the pairs; participant-bootstrap 95% CIs). "
    )


def _sessions_sentence(sessions: dict | None) -> str:
    """How many sessions started, how far they went, and which the analysis counts."""
    if not sessions:
        return ""
    counts = sessions["counts"]
    counted = {
        CountedSessions.FINISHED: "only finished sessions were analysed",
        CountedSessions.FINISHED_AND_PARTIAL: "finished and partial sessions were analysed",
    }[CountedSessions(sessions["rule"])]
    without = sessions.get("without_rule")
    beside = (
        f" (with partial sessions too: {without['participants']} participants, accuracy "
        f"{_percent(without['accuracy']['estimate'])})"
        if without
        else ""
    )
    return (
        f"{sessions['started']} sessions started: {counts['finished']} finished (every test "
        f"round submitted), {counts['partial']} partial (at least one round submitted) and "
        f"{counts['abandoned']} abandoned (no round submitted). By a rule fixed before data "
        f"collection, {counted}{beside}; staff pilot sessions were never counted. "
    )


def _percent(value: float | None) -> str:
    return "not defined" if value is None else f"{value:.1%}"


def _feedback_sentence(study: dict) -> str:
    """What participants learned while the study ran, and what that means for its figures.

    Every participant sees an image as the same bytes, so feedback shown while a study runs can
    be pooled across sessions into the truth of each image (quiz.integrity.oracle_check).
    """
    if not study.get("feedback"):
        return ""
    feedback = Feedback(study["feedback"])
    sentence = {
        Feedback.SCORE_AT_CLOSE: "Participants received no feedback while data were "
        "collected; each could see their own score only after the study closed, so feedback "
        "could not be pooled across participants into the answers. ",
        Feedback.NONE: "Participants received no feedback. ",
        Feedback.SCORE_ONLY: "Participants saw their score after each round; scores pooled "
        "across sessions reveal which images are real, so a participant who pooled them would "
        "not be measuring perception. ",
        Feedback.KEY_AT_END: "Participants saw the answer key at the end of their session: the "
        "truth of every image a session shows is public after one session, and a participant "
        "who learned keys from others would not be measuring perception. ",
        Feedback.KEY_EACH_ROUND: "Participants saw the answer key after each round: the truth "
        "of every image a session shows is public after one session, and a participant who "
        "learned keys from others would not be measuring perception. ",
    }[feedback]
    if not feedback.is_oracle_free and study.get("oracle_check"):
        sentence += f"{study['oracle_check']} "
    if study.get("oracle_risk_acknowledgement"):
        sentence += (
            "The investigators accepted this risk before data collection: "
            f"“{study['oracle_risk_acknowledgement']}” "
        )
    return sentence
