"""Studies: building them, their protocol, the leak audits that gate publishing, publishing and
closing."""

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from quiz import jobs
from quiz.admin.study_builder import build_study_view
from quiz.integrity.cue_audit import describe_cues
from quiz.models import Generator, Image, ImageKind, LeakAudit, Split, Study
from quiz.studies.builder import image_label
from quiz.studies.panels import refresh_panel_size, study_image_ids, study_sizing
from quiz.studies.rules import held_out_status, trained_on


class LeakAuditInline(admin.TabularInline):
    model = LeakAudit
    extra = 0
    can_delete = False
    fields = ["created_at", "status", "passed", "publish_on_pass", "auc", "by_group", "problems"]
    readonly_fields = fields
    ordering = ["-created_at"]
    verbose_name = "leak audit"

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    @admin.display(description="ROC AUC (95% CI)")
    def auc(self, audit: LeakAudit) -> str:
        report = audit.report or {}
        if report.get("auc") is None:
            return "-"
        low, high = report["ci95"]
        return f"{report['auc']:.3f} ({low:.3f}–{high:.3f}) over {report['observations']} panels"

    @admin.display(description="AUC by feature group")
    def by_group(self, audit: LeakAudit) -> str:
        groups = (audit.report or {}).get("by_group") or {}
        if not groups:
            return "-"
        return format_html_join(
            "",
            "<div>{}: {}</div>",
            ((g, "constant" if a is None else f"{a:.2f}") for g, a in groups.items()),
        )

    @admin.display(description="Problems and findings")
    def problems(self, audit: LeakAudit) -> str:
        report = audit.report or {}
        lines = [*report.get("problems", []), *report.get("findings", [])]
        lines += describe_cues(report.get("low_level_cues"), rendering=False)
        lines += [f"Warning: {warning}" for warning in report.get("warnings", [])]
        if report.get("oracle") and not report["oracle"].get("broken_after"):
            lines.append(report["oracle"]["summary"])  # a broken check is among the problems
        if audit.error:
            lines.append(f"Error: {audit.error}")
        if not lines:
            return "none"
        return format_html_join("", "<div>{}</div>", ((line,) for line in lines))


@admin.register(Study)
class StudyAdmin(admin.ModelAdmin):
    list_display = ["name", "is_published", "closed_at", "image_counts", "links"]
    # What a participant's session is made of: fixed once the study is published, so that every
    # trial of a study was measured under one protocol (and exclusion rules are set in advance).
    PROTOCOL_FIELDS = [
        "images",
        "practice_images",
        "catch_images",
        "catch_max_real",
        "counted_sessions",
        "layout",
        "panels_per_round",
        "rounds_per_session",
        "exposure_ms",
        "rating_points",
        "adaptive_exposure",
        "feedback",
        "expected_participants",
        "oracle_risk_acknowledgement",
        "mixed_modes_acknowledgement",
        "equivalence_margin",
    ]
    fields = [
        "name",
        "slug",
        "description",
        *PROTOCOL_FIELDS,
        "panels",
        "consent_text",
        "completion_url",
        "completion_code",
        "results_public",
        "is_published",
        "closed_at",
    ]
    readonly_fields = ["panels", "is_published", "closed_at"]
    filter_horizontal = ["images", "practice_images", "catch_images"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [LeakAuditInline]
    actions = ["publish", "audit", "unpublish", "close"]
    change_list_template = "admin/quiz/study/change_list.html"

    def get_urls(self) -> list:
        build = path("build/", self.admin_site.admin_view(self.build_view), name="quiz_study_build")
        return [build, *super().get_urls()]

    def build_view(self, request: HttpRequest) -> HttpResponse:
        return build_study_view(self, request, publish=lambda s: _start_audit(s, True))

    def get_form(self, request: HttpRequest, obj: Study | None = None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        _label_and_narrow_pickers(form.base_fields, obj)
        return form

    def get_readonly_fields(self, request: HttpRequest, obj: Study | None = None) -> list[str]:
        if obj is not None and obj.is_published:
            return [*self.readonly_fields, *self.PROTOCOL_FIELDS]
        return list(self.readonly_fields)

    @admin.display(description="Panel size")
    def panels(self, study: Study) -> str:
        if study.pk is None:
            return "Derived from the images: the smallest native side among them."
        return f"{study.panel_size} px: {study_sizing(study).note}. " + (
            "Derived from every image of the study (trials, practice, catch) so that none is "
            "enlarged."
        )

    def save_related(self, request: HttpRequest, form, formsets, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        study = form.instance
        sizing = refresh_panel_size(study)
        if sizing.smallest is not None and sizing.smallest != sizing.largest:
            self.message_user(
                request,
                f"{study}: {sizing.note}. The larger images are shrunk, never the smaller "
                "enlarged; the cue audit at publish checks that the shrinking does not tell "
                "the classes apart.",
                level=messages.WARNING,
            )

    @admin.display(description="Real / synthetic")
    def image_counts(self, study: Study) -> str:
        real = study.images.filter(kind=ImageKind.REAL).count()
        return f"{real} / {study.images.count() - real}"

    @admin.display(description="Links")
    def links(self, study: Study) -> str:
        links = format_html(
            '<a href="{}">quiz</a> · <a href="{}">statistics</a>',
            reverse("quiz:start", args=[study.slug]),
            reverse("quiz:stats", args=[study.slug]),
        )
        if study.is_published and not study.is_closed:
            links += format_html(
                ' · <a href="{}">take as pilot</a>', reverse("quiz:take_as_pilot", args=[study.pk])
            )
        return links

    @admin.action(description="Publish the selected studies (after a leak audit)")
    def publish(self, request: HttpRequest, queryset: QuerySet[Study]) -> None:
        for study in queryset:
            _start_audit(study, publish_on_pass=True)
            self.message_user(
                request,
                f"Auditing {study} for leaks in the background; it is published if it passes. "
                "The result appears on the study's page.",
            )
            for item in held_out_status(study):
                if item["held_out"] == "unknown":
                    self.message_user(
                        request,
                        f"{study}: generator “{item['generator']}” has no training manifest, "
                        "so whether its real panels were among the images it trained on is "
                        "unknown; its report will say so.",
                        messages.WARNING,
                    )

    @admin.action(description="Audit the selected studies for leaks (without publishing)")
    def audit(self, request: HttpRequest, queryset: QuerySet[Study]) -> None:
        for study in queryset:
            _start_audit(study, publish_on_pass=False)
        self.message_user(
            request,
            f"Auditing {queryset.count()} study(ies) for leaks in the background; the results "
            "appear on each study's page.",
        )

    @admin.action(description="Unpublish the selected studies")
    def unpublish(self, request: HttpRequest, queryset: QuerySet[Study]) -> None:
        queryset.update(is_published=False)

    @admin.action(
        description="Close the selected studies (end data collection; show held-back scores)"
    )
    def close(self, request: HttpRequest, queryset: QuerySet[Study]) -> None:
        closed = queryset.filter(closed_at__isnull=True).update(closed_at=timezone.now())
        self.message_user(
            request,
            f"Closed {closed} study(ies): no session starts and no round is recorded any more, "
            "and participants' held-back scores are shown at their score links.",
        )


def _label_and_narrow_pickers(fields: dict, study: Study | None) -> None:
    """Each picker names an image's split or generator; practice and catch offer no training image.

    Practice panels are shown as real or synthetic examples, so a real one must be held out
    like a trial's: in its dataset's held-out part, and none that a generator of the study
    trained on. Catch images are obviously synthetic by definition, so only synthetic images
    are offered. (Publishing checks the same rules over what was saved: these lists only keep
    staff from picking what would be refused.)
    """
    images = Image.objects.select_related("generator").defer("signature").order_by("kind", "pk")
    generators = Generator.objects.none()
    if study is not None and study.pk is not None:
        shown = Image.objects.filter(pk__in=study_image_ids(study), kind=ImageKind.SYNTHETIC)
        generators = Generator.objects.filter(pk__in=shown.values("generator_id"))
    trained = trained_on(generators.select_related("training_run"))
    narrowed = {
        "images": images,
        "practice_images": images.exclude(kind=ImageKind.REAL, split__in=["", Split.TRAIN]).exclude(
            trained
        ),
        "catch_images": images.filter(kind=ImageKind.SYNTHETIC),
    }
    for name, queryset in narrowed.items():
        if name in fields:  # a published study's protocol is read-only: no picker
            fields[name].queryset = queryset
            fields[name].label_from_instance = image_label


def _start_audit(study: Study, publish_on_pass: bool) -> LeakAudit:
    return jobs.create(LeakAudit, study=study, publish_on_pass=publish_on_pass)
