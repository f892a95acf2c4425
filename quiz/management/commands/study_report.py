"""`python manage.py study_report STUDY [--json]` or `study_report --from-csv TRIALS.csv --json`.

The figures of the statistics page as data: from a study in the database, or from a trial CSV
(exported, merged from several studies, or from another tool: only `participant, image,
true_label, answer` are required).
"""

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from quiz.analysis.reports import analyse, study_report
from quiz.analysis.trials import TrialCSVError, read_trials_csv
from quiz.models import DEFAULT_EQUIVALENCE_MARGIN, Study


class Command(BaseCommand):
    help = "Compute a study's statistical report (as on /stats/<slug>/report.json)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("study", nargs="?", help="The study's slug.")
        parser.add_argument("--from-csv", type=Path, help="Analyse a trial CSV instead.")
        parser.add_argument("--json", action="store_true", help="Print the whole report as JSON.")
        parser.add_argument(
            "--margin",
            type=float,
            default=DEFAULT_EQUIVALENCE_MARGIN,
            help="Equivalence margin for --from-csv (a study uses its own setting).",
        )

    def handle(self, *args, study: str | None, from_csv: Path | None, **options) -> None:
        if (study is None) == (from_csv is None):
            raise CommandError("Name a study or give --from-csv TRIALS.csv (not both).")
        if from_csv is not None:
            if not 0 < options["margin"] < 0.5:
                raise CommandError("--margin must be between 0 and 0.5.")
            try:
                rows = read_trials_csv(from_csv)
            except TrialCSVError as exc:
                raise CommandError(str(exc)) from exc
            report = analyse(rows, margin=options["margin"])
        else:
            found = Study.objects.filter(slug=study).first()
            if found is None:
                raise CommandError(f"No study with the slug {study!r}.")
            report = study_report(found)
        if options["json"]:
            self.stdout.write(json.dumps(report, indent=2, sort_keys=True))
        else:
            self.stdout.write(_summary(report))


def _summary(report: dict) -> str:
    lines = []
    sessions = report.get("sessions")
    if sessions:
        counts = sessions["counts"]
        lines.append(
            f"{sessions['started']} sessions: {counts['finished']} finished, "
            f"{counts['partial']} partial, {counts['abandoned']} abandoned; counted: "
            f"{sessions['rule_label'].lower()}"
        )
    lines.append(f"{report['participants']} participants, {report['trials']} test trials")
    for name in ("accuracy", "balanced_accuracy", "fooling_rate", "real_accuracy", "dprime"):
        lines.append(f"{name}: {_figure(report[name])}")
    lines.append(f"equivalence: {report['equivalence'].get('verdict')}")
    if len(report["by_generator"]) > 1:
        for row in report["by_generator"]:
            lines.append(f"fooling rate of {row['generator']}: {_figure(row['fooling_rate'])}")
        for pair in report["generator_comparisons"]:
            p = pair["p_holm"]
            lines.append(
                f"{pair['generator_a']} - {pair['generator_b']}: "
                + (f"{pair['estimate']:+.3f}" if pair["estimate"] is not None else "not defined")
                + (f", Holm-adjusted p = {p:.2g}" if p is not None else "")
            )
    if "roc" in report:
        auc = report["roc"]["auc"]
        low, high = auc.get("ci95") or (None, None)
        estimate = "not defined" if auc.get("estimate") is None else f"{auc['estimate']:.3f}"
        ci = f" (95% CI {low:.3f} to {high:.3f})" if low is not None else ""
        lines.append(f"ROC AUC, reader-averaged: {estimate}{ci} by {auc['method']}")
    return "\n".join(lines)


def _figure(figure: dict) -> str:
    if figure.get("estimate") is None:
        return "not defined"
    low, high = figure.get("ci95") or (None, None)
    ci = f" (95% CI {low:.3f} to {high:.3f})" if low is not None else ""
    p = figure.get("p_vs_chance")
    return f"{figure['estimate']:.3f}{ci}" + (f", p = {p:.2g}" if p is not None else "")
