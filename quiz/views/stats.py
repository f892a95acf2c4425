"""The statistics of a study: its page, its report as JSON, the per-trial and per-session CSVs
and their Psych-DS metadata.

Staff always see them; anyone else only once the study is published and its results are public
(`Study.results_public`): the CSV holds the truth of every image. The recruitment platform's ids
are for staff only, everywhere: they identify people on the platform, and they resume unfinished
sessions (docs/quiz-integrity.md).
"""

import csv
import math
from collections.abc import Iterator

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_safe

from quiz.analysis.charts import Interval, dot_plot, interval_chart, roc_chart
from quiz.analysis.exports import WIDE_FIELDS, dataset_description, export_names, wide_rows
from quiz.analysis.reports import methods_paragraph, study_report
from quiz.analysis.trials import TRIAL_FIELDS, flag_participants, study_trials, trial_rows
from quiz.models import Study

# The headline figures in the order of the page: key, label, chart label (None: not a rate).
HEADLINE = (
    ("accuracy", "Accuracy, all panels", "Accuracy"),
    (
        "balanced_accuracy",
        "Balanced accuracy (mean of real and synthetic accuracy)",
        "Balanced accuracy",
    ),
    ("real_accuracy", "Accuracy on real panels", "Accuracy on real"),
    ("fooling_rate", "Fooling rate (synthetic panels judged real)", "Fooling rate"),
    ("hype_error", "HYPE∞ error (share of images judged wrongly)", "HYPE∞ error"),
    ("dprime", "Sensitivity d′ (0: real and synthetic cannot be told apart)", None),
    ("criterion", "Criterion c (above 0: a bias towards answering “real”)", None),
)
ROC_METHODS = {
    "obuchowski-rockette-hillis": "Obuchowski–Rockette with Hillis's degrees of freedom, random "
    "readers and random cases, jackknife covariances over images (every participant rated "
    "every image once)",
    "two-way bootstrap": "two-way bootstrap over participants and images, percentile interval "
    "(participants rated different images, so the Obuchowski–Rockette covariances do not apply)",
}
AGREEMENT_METHODS = {
    "fleiss_kappa": "Fleiss’ κ (every participant rated the same images)",
    "krippendorff_alpha": "Krippendorff’s α, nominal (participants rated different images)",
}


def _visible_study(request: HttpRequest, slug: str) -> Study:
    study = get_object_or_404(Study, slug=slug)
    if not study.results_visible_to(request.user):
        raise Http404("No public results for this study.")
    return study


@require_safe
def study_stats(request: HttpRequest, slug: str) -> HttpResponse:
    study = _visible_study(request, slug)
    report = _for_viewer(study_report(study), request)
    context = {"study": study, "report": report, "show_ids": request.user.is_staff}
    if report["trials"]:
        context.update(_figures(report))
        context["methods"] = methods_paragraph(report)
    if request.user.is_staff:
        # Who is flagged, and which image is which, is for staff to review, not for the public.
        context["flags"] = flag_participants(study_trials(study))
        context["show_thumbnails"] = True
    return render(request, "quiz/stats.html", context)


def _figures(report: dict) -> dict:
    headline = [
        {
            "key": key,
            "label": label,
            "chart_label": short,
            "is_rate": short is not None,
            **report[key],
        }
        for key, label, short in HEADLINE
    ]
    rates = [row for row in headline if row["is_rate"]]
    per_participant = [row["accuracy"] for row in report["per_participant"]]
    roc, generator_aucs = _roc_figures(report.get("roc"))
    return {
        "roc": roc,
        # Each generator's row with its reader-averaged AUC (None: no ratings).
        "generator_rows": [
            (row, generator_aucs.get(row["generator"])) for row in report["by_generator"]
        ],
        "agreement_method": AGREEMENT_METHODS.get(report["agreement"].get("method")),
        "headline": headline,
        "headline_chart": interval_chart(
            [_interval(row["chart_label"], row) for row in rates],
            title="Headline figures with participant-bootstrap 95% CIs; dashed line at 50%",
        ),
        "participant_chart": dot_plot(
            [value for value in per_participant if value is not None],
            title="Accuracy of each participant; dashed line at chance (50%)",
        ),
        "generator_chart": interval_chart(
            [
                _interval(_generator_label(row["generator"]), row["fooling_rate"])
                for row in report["by_generator"]
            ],
            title="Fooling rate by generator with participant-bootstrap 95% CIs; dashed line: 50%",
        ),
        "learning_chart": interval_chart(
            [
                Interval(f"Round {row['round']}", row["accuracy"], *(row["ci95"] or (None, None)))
                for row in report["learning"]["rounds"]
            ],
            title="Accuracy by round with 95% Wilson intervals",
        ),
        "position_chart": interval_chart(
            [
                Interval(
                    f"Panel {row['letter']}",
                    row["real_answers"],
                    *(row["real_answers_ci95"] or (None, None)),
                )
                for row in report["position"]["letters"]
            ],
            title="Share of “real” answers by panel letter with 95% Wilson intervals",
        ),
    }


def _roc_figures(roc: dict | None) -> tuple[dict | None, dict]:
    """The ROC section (a study with confidence ratings): the participants' curves, the
    reader-averaged AUC, and each generator's AUC for the generator table."""
    if roc is None:
        return None, {}
    curves = [
        (
            f"Participant #{row['participant']}: AUC {row['auc']:.2f}",
            [(point["fpr"], point["tpr"]) for point in row["roc_points"]],
        )
        for row in roc["per_participant"]
        if row["auc"] is not None
    ]
    return (
        {
            "chart": roc_chart(
                curves,
                title="Each participant's empirical ROC curve from their confidence ratings; "
                "dashed line: chance",
            ),
            "participants": len(curves),
            "auc": _finite(roc["auc"]),
            "method": ROC_METHODS.get(roc["auc"].get("method"), roc["auc"].get("method")),
            "design": roc["design"],
            "per_participant": roc["per_participant"],
            "by_expertise": [{**row, "auc": _finite(row["auc"])} for row in roc["by_expertise"]],
        },
        # Keyed as the generator table's rows are: by the generator's name.
        {row["generator"]: _finite(row["auc"]) for row in roc["by_generator"]},
    )


def _finite(figure: dict) -> dict:
    """An AUC figure with NaN (undefined: too few readers or images) as None, which the page
    prints as a dash."""

    def clean(value: object) -> object:
        if isinstance(value, float) and math.isnan(value):
            return None
        if isinstance(value, list):
            return [clean(item) for item in value]
        return value

    return {key: clean(value) for key, value in figure.items()}


def _generator_label(name: object) -> str:
    # A trial CSV from another tool may name no generator: its synthetic images are one group.
    return "unnamed generator" if name is None else str(name)


_ID_FIELDS = ("external_id", "external_study_id", "external_session_id")


def _for_viewer(report: dict, request: HttpRequest) -> dict:
    """The report as this viewer may see it: without recruitment ids unless staff. The cached
    report is shared, so the participant rows are copied, not blanked in place."""
    if request.user.is_staff:
        return report
    rows = [
        {key: value for key, value in row.items() if key not in _ID_FIELDS}
        for row in report.get("per_participant", [])
    ]
    return {**report, "per_participant": rows}


def _interval(label: str, figure: dict) -> Interval:
    low, high = figure.get("ci95") or (None, None)
    return Interval(label, figure.get("estimate"), low, high, f"{figure.get('participants')} p.")


@require_safe
def report_json(request: HttpRequest, slug: str) -> JsonResponse:
    study = _visible_study(request, slug)
    return JsonResponse(_for_viewer(study_report(study), request), json_dumps_params={"indent": 1})


class _Echo:
    """A file-like object for csv.writer that hands each line back instead of storing it."""

    def write(self, value: str) -> str:
        return value


@require_safe
def trials_csv(request: HttpRequest, slug: str) -> StreamingHttpResponse:
    study = _visible_study(request, slug)
    rows = trial_rows(study, identities=request.user.is_staff)
    return _csv_response(TRIAL_FIELDS, rows, export_names(study)[0])


@require_safe
def participants_csv(request: HttpRequest, slug: str) -> StreamingHttpResponse:
    """The wide CSV: one row per session, abandoned ones included."""
    study = _visible_study(request, slug)
    rows = wide_rows(study, identities=request.user.is_staff)
    return _csv_response(WIDE_FIELDS, rows, export_names(study)[1])


@require_safe
def metadata_json(request: HttpRequest, slug: str) -> JsonResponse:
    """The Psych-DS `dataset_description.json` of the two CSVs."""
    study = _visible_study(request, slug)
    trials_file, wide_file, name = export_names(study)
    return JsonResponse(
        dataset_description(study, trials_file=trials_file, wide_file=wide_file),
        json_dumps_params={"indent": 1},
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def _csv_response(
    fields: tuple[str, ...], rows: Iterator[dict], filename: str
) -> StreamingHttpResponse:
    writer = csv.DictWriter(_Echo(), fieldnames=fields)

    def lines() -> Iterator[str]:
        yield writer.writeheader()
        for row in rows:
            yield writer.writerow(row)

    # Streamed: a large study's export never sits whole in memory.
    return StreamingHttpResponse(
        lines(),
        content_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
