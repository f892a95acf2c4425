"""The statistics of a study: its page and the per-trial CSV.

Staff always see them; anyone else only once the study is published and its results are public
(`Study.results_public`): the CSV holds the truth of every image.
"""

import csv
from collections.abc import Iterator

from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_safe

from quiz.charts import proportion_chart
from quiz.models import Study
from quiz.stats import HARDEST_FAKES_MIN_TRIALS, catch_exclusions, flag_participants, summarize
from quiz.trials import TRIAL_FIELDS, study_trials, trial_rows


def _visible_study(request: HttpRequest, slug: str) -> Study:
    study = get_object_or_404(Study, slug=slug)
    if not study.results_visible_to(request.user):
        raise Http404("No public results for this study.")
    return study


def _format_p(p: float) -> str:
    return "p < 0.0001" if p < 0.0001 else f"p = {p:.4f}"


@require_safe
def study_stats(request: HttpRequest, slug: str) -> HttpResponse:
    study = _visible_study(request, slug)
    trials = list(study_trials(study))
    exclusions = catch_exclusions(trials, study.catch_max_real)
    excluded = {exclusion.participant_id for exclusion in exclusions}
    # The headline figures follow the study's exclusion rule; the unexcluded ones sit beside them.
    summary = summarize(trial for trial in trials if trial.participant_id not in excluded)
    context = {
        "study": study,
        "summary": summary,
        "min_fake_trials": HARDEST_FAKES_MIN_TRIALS,
        "has_catch": any(trial.is_catch for trial in trials),
        "exclusions": exclusions,
        "summary_all": summarize(trials) if exclusions else None,
        # Who is flagged is for staff to review, not for the public page.
        "flags": flag_participants(trials) if request.user.is_staff else None,
    }
    if summary.trials:
        context["p_value"] = _format_p(summary.accuracy_p_value)
        context["accuracy_chart"] = proportion_chart(
            [
                ("All panels", summary.accuracy),
                ("Real panels", summary.real_accuracy),
                ("Synthetic panels", summary.synthetic_accuracy),
            ],
            title="Accuracy with 95% confidence intervals; dashed line at chance (50%)",
        )
        context["run_chart"] = proportion_chart(
            [(row.name, row.fooling) for row in summary.by_run],
            title="Fooling rate by training run with 95% confidence intervals; dashed line at 50%",
        )
    return render(request, "quiz/stats.html", context)


class _Echo:
    """A file-like object for csv.writer that hands each line back instead of storing it."""

    def write(self, value: str) -> str:
        return value


@require_safe
def trials_csv(request: HttpRequest, slug: str) -> StreamingHttpResponse:
    study = _visible_study(request, slug)
    writer = csv.DictWriter(_Echo(), fieldnames=TRIAL_FIELDS)

    def lines() -> Iterator[str]:
        yield writer.writeheader()
        for row in trial_rows(study):
            yield writer.writerow(row)

    # Streamed: a large study's export never sits whole in memory.
    return StreamingHttpResponse(
        lines(),
        content_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{study.slug}-trials.csv"'},
    )
