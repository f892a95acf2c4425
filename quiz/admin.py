"""The researcher's workbench: upload datasets, train, watch progress, generate, build studies."""

from collections import Counter

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Count, Q, QuerySet, Sum
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from ganengine import families
from quiz import jobs
from quiz.analysis.charts import loss_curve_svg
from quiz.ingest.crop_review import CropError, adjust_crop, adjust_geometry, crop_counts, set_review
from quiz.ingest.uploads import UploadNotStored, delete_uploads, store_uploads
from quiz.models import (
    CropOrigin,
    Dataset,
    GenerationJob,
    Guess,
    Image,
    ImageKind,
    IngestJob,
    LeakAudit,
    Participant,
    Review,
    Split,
    Study,
    TrainingRun,
)
from quiz.studies.rounds import panel_size_for

admin.site.site_header = "Real or Synthetic? — staff"
admin.site.site_title = "Real or Synthetic? staff"


class _MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class _MultipleFileField(forms.FileField):
    widget = _MultipleFileInput

    def clean(self, data, initial=None):
        files = data if isinstance(data, list | tuple) else [data] if data else []
        return [super(_MultipleFileField, self).clean(item, initial) for item in files]


class DatasetForm(forms.ModelForm):
    upload = _MultipleFileField(
        required=False,
        help_text="Images (PNG, JPEG, TIFF, BMP, DICOM) or zip archives of them. They are "
        "ingested in the background; the report appears below.",
    )

    class Meta:
        model = Dataset
        fields = ["name", "description", "held_out_share", "split_seed", "frames_per_file"]
        help_texts = {
            "split_seed": "Changing the seed or the share draws the split afresh over all the "
            "dataset's images. Runs already trained are unaffected: each run records the images "
            "it trained on, and publishing a study checks that record, not the current split.",
        }

    def clean_upload(self) -> list:
        files = self.cleaned_data["upload"]
        total = sum(item.size for item in files)
        if total > settings.MAX_UPLOAD_BYTES:
            largest = max(files, key=lambda item: item.size)
            raise forms.ValidationError(
                f"The upload is {total / 2**20:.0f} MB, over the limit of "
                f"{settings.MAX_UPLOAD_BYTES / 2**20:.0f} MB (largest file: {largest.name})."
            )
        return files


class IngestJobInline(admin.TabularInline):
    model = IngestJob
    extra = 0
    can_delete = False
    fields = ["created_at", "status", "imported_count", "duplicate_count", "report", "error"]
    readonly_fields = fields
    ordering = ["-created_at"]

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    @admin.display(description="Report")
    def report(self, job: IngestJob) -> str:
        """Each file that was not simply imported, on its own line, under what happened to it."""
        sections = [
            ("Rejected", job.rejections),
            ("Skipped", job.skipped),
            ("Flagged", job.flagged),
            ("Notes", job.notes),
        ]
        entries = [(heading, e["file"], e["reason"]) for heading, items in sections for e in items]
        if not entries:
            return "every file imported"
        return format_html_join("", "<div>{}: <strong>{}</strong>: {}</div>", entries)


class CropReviewForm(forms.Form):
    """One staff decision on one image of the crop review page."""

    ACTIONS = {
        "accept": "Accept",
        "exclude": "Exclude",
        "unreview": "Undo review",
        "adjust": "Save box",
        "adjust_geometry": "Save box for this layout",
    }
    image = forms.IntegerField()
    action = forms.ChoiceField(choices=list(ACTIONS.items()))
    left = forms.IntegerField(required=False, min_value=0)
    top = forms.IntegerField(required=False, min_value=0)
    right = forms.IntegerField(required=False, min_value=1)
    bottom = forms.IntegerField(required=False, min_value=1)

    def clean(self) -> dict:
        cleaned = super().clean()
        if cleaned.get("action", "").startswith("adjust"):
            sides = [cleaned.get(side) for side in ("left", "top", "right", "bottom")]
            if None in sides:
                raise forms.ValidationError("Give the box's left, top, right and bottom.")
            cleaned["box"] = tuple(sides)
        return cleaned


@admin.register(Dataset)
class DatasetAdmin(admin.ModelAdmin):
    form = DatasetForm
    inlines = [IngestJobInline]
    list_display = ["name", "image_count", "split_counts", "created_at"]
    readonly_fields = ["split_counts", "crops"]
    actions = ["train_gan"]
    review_page_size = 40

    def get_urls(self) -> list:
        review = path(
            "<int:pk>/crops/",
            self.admin_site.admin_view(self.crop_review_view),
            name="quiz_dataset_crops",
        )
        return [review, *super().get_urls()]

    @admin.display(description="Crops")
    def crops(self, dataset: Dataset) -> str:
        if dataset.pk is None:
            return "-"
        url = reverse("admin:quiz_dataset_crops", args=[dataset.pk])
        return format_html('{} · <a href="{}">Review crops</a>', crop_counts(dataset), url)

    def crop_review_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """Every image before (source frame with its box) and after; accept, adjust, exclude."""
        dataset = get_object_or_404(Dataset, pk=pk)
        if not self.has_change_permission(request, dataset):
            raise PermissionDenied
        if request.method == "POST":
            self._review(request, dataset, CropReviewForm(request.POST))
            return HttpResponseRedirect(request.get_full_path())
        real = dataset.images.filter(kind=ImageKind.REAL).order_by("pk")
        filters = {
            "all": real,
            "flagged": real.exclude(flags=[]),
            "adjusted": real.filter(crop_origin=CropOrigin.ADJUSTED),
            "excluded": real.filter(review=Review.EXCLUDED),
        }
        shown = request.GET.get("show") if request.GET.get("show") in filters else "all"
        images = filters[shown]
        page = Paginator(images, self.review_page_size).get_page(request.GET.get("page"))
        geometry = Counter(real.values_list("source_width", "source_height"))
        rows = [
            {
                "image": image,
                "layout_count": geometry[(image.source_width, image.source_height)],
                "panel_rect": _panel_rect(image),
            }
            for image in page
        ]
        context = {
            **self.admin_site.each_context(request),
            "title": f"Crop review: {dataset}",
            "dataset": dataset,
            "opts": self.model._meta,
            "counts": crop_counts(dataset),
            "page": page,
            "rows": rows,
            "shown": shown,
            "filters": list(filters),
            "actions": CropReviewForm.ACTIONS,
        }
        return TemplateResponse(request, "admin/quiz/dataset/crops.html", context)

    def _review(self, request: HttpRequest, dataset: Dataset, form: CropReviewForm) -> None:
        if not form.is_valid():
            errors = "; ".join(e for errors in form.errors.values() for e in errors)
            messages.error(request, f"Nothing changed: {errors}")
            return
        image = dataset.images.filter(kind=ImageKind.REAL, pk=form.cleaned_data["image"]).first()
        if image is None:
            messages.error(request, "Nothing changed: no such image in this dataset.")
            return
        action = form.cleaned_data["action"]
        try:
            box = form.cleaned_data.get("box")
            if action == "adjust":
                adjust_crop(image, box)
                messages.success(request, f"Image #{image.pk} cropped to {list(box)}.")
            elif action == "adjust_geometry":
                changed, problems = adjust_geometry(image, box)
                messages.success(
                    request,
                    f"{changed} image(s) of the {image.source_width}x{image.source_height} layout "
                    f"cropped to {list(box)}.",
                )
                for problem in problems:
                    messages.warning(request, problem)
            else:
                review = {
                    "accept": Review.ACCEPTED,
                    "exclude": Review.EXCLUDED,
                    "unreview": Review.PENDING,
                }[action]
                set_review(dataset.images.filter(pk=image.pk), review)
                messages.success(request, f"Image #{image.pk}: {Review(review).label.lower()}.")
        except CropError as exc:
            messages.error(request, str(exc))

    def get_queryset(self, request: HttpRequest) -> QuerySet[Dataset]:
        real = Q(images__kind=ImageKind.REAL)
        return (
            super()
            .get_queryset(request)
            .annotate(
                train_count=Count("images", filter=real & Q(images__split=Split.TRAIN)),
                held_out_count=Count("images", filter=real & Q(images__split=Split.HELD_OUT)),
            )
        )

    @admin.display(description="Images")
    def image_count(self, dataset: Dataset) -> int:
        return dataset.images.count()

    @admin.display(description="Train / held out")
    def split_counts(self, dataset: Dataset) -> str:
        if dataset.pk is None:
            return "-"
        return f"{dataset.train_count} / {dataset.held_out_count}"

    def save_model(
        self, request: HttpRequest, obj: Dataset, form: DatasetForm, change: bool
    ) -> None:
        super().save_model(request, obj, form, change)
        unsplit = obj.images.filter(kind=ImageKind.REAL, split="").exists()
        if unsplit or {"held_out_share", "split_seed"} & set(form.changed_data):
            obj.apply_split()
            if obj.images.exists():
                messages.info(request, f"Split {obj}: {_split_summary(obj)}.")
        files = form.cleaned_data.get("upload") or []
        if files:
            job = IngestJob(dataset=obj)
            store_uploads(job.upload_dir, files, stored=request.stored_uploads)
            job.uploads = request.stored_uploads
            job.save()
            jobs.submit(job, notify=_warning_for(request))
            messages.info(request, f"Ingesting {len(files)} uploaded file(s) in the background.")

    def changeform_view(
        self, request: HttpRequest, object_id=None, form_url="", extra_context=None
    ) -> HttpResponse:
        # save_model stores an upload's files inside the admin's transaction. Whatever stops that
        # transaction from committing (a file that cannot be stored, a database error after it),
        # the files stored so far are deleted here, the one place that cleans up an upload.
        request.stored_uploads = []
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except Exception as exc:
            delete_uploads(request.stored_uploads)
            if not isinstance(exc, UploadNotStored):
                raise
            # The transaction has rolled back: neither the dataset's changes nor a job are saved.
            self.message_user(request, f"Nothing was saved: {exc}.", messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    @admin.action(description="Train a GAN on the selected dataset")
    def train_gan(self, request: HttpRequest, queryset: QuerySet[Dataset]) -> HttpResponseRedirect:
        dataset = queryset.first()
        return HttpResponseRedirect(f"{reverse('admin:quiz_trainingrun_add')}?dataset={dataset.pk}")


def _panel_rect(image: Image) -> tuple[int, int, int, int] | None:
    """The panel region as (x, y, width, height) in source-frame coordinates, for the SVG."""
    if not image.panel_box or not image.crop_box:
        return None
    left, top, right, bottom = image.panel_box
    return (image.crop_box[0] + left, image.crop_box[1] + top, right - left, bottom - top)


def _split_summary(dataset: Dataset) -> str:
    real = dataset.images.filter(kind=ImageKind.REAL)
    train = real.filter(split=Split.TRAIN).count()
    held_out = real.filter(split=Split.HELD_OUT).count()
    return f"{train} train / {held_out} held out"


def _preset_choices() -> list[tuple[str, list[tuple[str, str]]]]:
    """Every registered family's presets, grouped by family, as "<family>:<preset name>"."""
    return [
        (family.label, [(f"{family.name}:{preset}", preset) for preset in family.presets()])
        for family in families.all()
    ]


class TrainingRunForm(forms.ModelForm):
    # A callable: each form lists the families registered when it is shown or checked.
    preset = forms.ChoiceField(choices=_preset_choices)
    steps = forms.IntegerField(
        required=False, min_value=1, help_text="Leave blank for the preset's."
    )
    seed = forms.IntegerField(required=False, min_value=0)

    class Meta:
        model = TrainingRun
        fields = ["dataset", "name"]

    def clean(self) -> dict:
        cleaned = super().clean()
        name, _, preset = cleaned.get("preset", "").partition(":")
        overrides = {k: cleaned[k] for k in ("steps", "seed") if cleaned.get(k) is not None}
        try:
            family = families.get(name)
            config = family.preset(preset, **overrides)
        except (LookupError, ValueError, TypeError) as exc:
            raise forms.ValidationError(f"Invalid training configuration: {exc}") from exc
        dataset = cleaned.get("dataset")
        if dataset is not None and not dataset.images.exists():
            raise forms.ValidationError(f"Dataset {dataset} has no images yet.")
        if dataset is not None and not dataset.images.filter(split=Split.TRAIN).exists():
            raise forms.ValidationError(
                f"Dataset {dataset} has no images in its train part ({_split_summary(dataset)}): "
                "lower its held-out share on the dataset's page."
            )
        self.instance.family = family.name
        self.instance.config = config.to_dict()
        self.instance.total_steps = config.steps
        return cleaned


class GenerateForm(forms.Form):
    count = forms.IntegerField(min_value=1, max_value=10_000, initial=50)


@admin.register(TrainingRun)
class TrainingRunAdmin(admin.ModelAdmin):
    list_display = ["name", "dataset", "family", "status", "progress_percent", "finished_at"]
    list_filter = ["status", "family", "dataset"]
    actions = ["generate", "cancel", "retry"]
    change_form_template = "admin/quiz/trainingrun/change_form.html"
    readonly_fields = [
        "dataset",
        "name",
        "family",
        "status",
        "step",
        "total_steps",
        "attempts",
        "lease_owner",
        "lease_expires_at",
        "lost_leases",
        "config",
        "checkpoint",
        "trained_image_count",
        "evaluation",
        "error",
        "created_at",
        "started_at",
        "finished_at",
    ]

    def get_form(self, request: HttpRequest, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = TrainingRunForm
        return super().get_form(request, obj, **kwargs)

    def get_readonly_fields(self, request: HttpRequest, obj=None) -> list[str]:
        return self.readonly_fields if obj else []

    def get_fields(self, request: HttpRequest, obj=None) -> list[str]:
        if obj is None:
            return ["dataset", "name", "preset", "steps", "seed"]
        return self.readonly_fields

    def save_model(self, request: HttpRequest, obj: TrainingRun, form, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if not change:
            jobs.submit(obj, notify=_warning_for(request))

    def change_view(self, request: HttpRequest, object_id: str, form_url="", extra_context=None):
        run = self.get_object(request, object_id)
        # A run is a record of a job: nothing on its page is edited, so offer no save buttons.
        extra_context = {
            **(extra_context or {}),
            "show_save": False,
            "show_save_and_continue": False,
            "show_save_and_add_another": False,
        }
        if run is not None:
            extra_context["loss_svg"] = loss_curve_svg(run.metrics)
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.display(description="Progress")
    def progress_percent(self, run: TrainingRun) -> str:
        return f"{run.progress:.0%}"

    @admin.display(description="Trained on")
    def trained_image_count(self, run: TrainingRun) -> str:
        count = run.trained_images.count()
        if not count:
            return "no record (not started yet, or trained before runs kept one)"
        return f"{count} real images of {run.dataset} (its train part when training started)"

    @admin.action(description="Generate images from the selected runs")
    def generate(self, request: HttpRequest, queryset: QuerySet[TrainingRun]):
        runs = list(queryset)
        unready = [run.name for run in runs if not run.checkpoint]
        if unready:
            self.message_user(
                request, f"No checkpoint yet for: {', '.join(unready)}.", messages.ERROR
            )
            return None
        form = GenerateForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            for run in runs:
                _start_generation(run, form.cleaned_data["count"], _warning_for(request))
            self.message_user(request, f"Generating images from {len(runs)} run(s).")
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": "Generate synthetic images",
            "runs": runs,
            "form": form,
            "action": "generate",
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/quiz/trainingrun/generate.html", context)

    @admin.action(description="Cancel the selected runs")
    def cancel(self, request: HttpRequest, queryset: QuerySet[TrainingRun]) -> None:
        _cancel(self, request, queryset)

    @admin.action(description="Retry the selected runs (resumes from the latest checkpoint)")
    def retry(self, request: HttpRequest, queryset: QuerySet[TrainingRun]) -> None:
        _retry(self, request, queryset)


def _warning_for(request: HttpRequest):
    return lambda text: messages.warning(request, text)


def _cancel(model_admin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet) -> None:
    result = jobs.cancel(queryset)
    model_admin.message_user(
        request,
        f"Cancelled {result.cancelled} job(s) that were queued or had lost their worker; "
        f"asked {result.stopping} running job(s) to stop at their next heartbeat.",
    )


def _retry(model_admin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet) -> None:
    result = jobs.retry(queryset, notify=_warning_for(request))
    model_admin.message_user(request, f"Queued {len(result.requeued)} job(s) again.")
    for reason in result.refused:
        model_admin.message_user(request, f"Not retried: {reason}.", messages.WARNING)


def _start_generation(run: TrainingRun, count: int, notify=None) -> GenerationJob:
    with transaction.atomic():
        # Jobs take consecutive seed ranges, so a run's images are distinct and reproducible.
        first_seed = run.generation_jobs.aggregate(used=Sum("count"))["used"] or 0
        return jobs.create(
            GenerationJob, notify, training_run=run, count=count, first_seed=first_seed
        )


@admin.register(GenerationJob)
class GenerationJobAdmin(admin.ModelAdmin):
    list_display = ["training_run", "count", "produced", "status", "created_at", "finished_at"]
    list_filter = ["status"]
    readonly_fields = [f.name for f in GenerationJob._meta.fields]
    actions = ["cancel", "retry"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description="Cancel the selected generation jobs")
    def cancel(self, request: HttpRequest, queryset: QuerySet[GenerationJob]) -> None:
        _cancel(self, request, queryset)

    @admin.action(description="Retry the selected generation jobs (continues after the last image)")
    def retry(self, request: HttpRequest, queryset: QuerySet[GenerationJob]) -> None:
        _retry(self, request, queryset)


@admin.register(Image)
class ImageAdmin(admin.ModelAdmin):
    list_display = [
        "thumbnail",
        "pk",
        "kind",
        "dataset",
        "split",
        "training_run",
        "seed",
        "width",
        "height",
    ]
    list_filter = ["kind", "split", "review", "crop_origin", "dataset", "training_run"]
    readonly_fields = [
        "thumbnail",
        "mask_thumbnail",
        "kind",
        "width",
        "height",
        "sha256",
        "dataset",
        "source_name",
        "split",
        "review",
        "flags",
        "crop_origin",
        "crop_box",
        "field_shape",
        "panel_box",
        "training_run",
        "checkpoint_step",
        "seed",
        "created_at",
    ]
    fields = readonly_fields
    actions = ["create_study"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.display(description="Image")
    def thumbnail(self, image: Image) -> str:
        url = reverse("quiz:staff_image", args=[image.pk])
        return format_html('<img src="{}" alt="" class="thumb">', url)

    @admin.display(description="Mask")
    def mask_thumbnail(self, image: Image) -> str:
        if not image.mask:
            return "-"
        url = reverse("quiz:staff_image_mask", args=[image.pk])
        return format_html('<img src="{}" alt="" class="thumb-large">', url)

    @admin.action(description="Create a study from the selected images")
    def create_study(self, request: HttpRequest, queryset: QuerySet[Image]) -> HttpResponseRedirect:
        images = list(queryset)
        study = Study.objects.create(
            name=f"Study {timezone.now():%Y-%m-%d %H:%M}", panel_size=panel_size_for(images)
        )
        study.images.set(images)
        self.message_user(
            request, f"Created {study} with {len(images)} images; publish it when ready."
        )
        return HttpResponseRedirect(reverse("admin:quiz_study_change", args=[study.pk]))


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
        "layout",
        "panels_per_round",
        "rounds_per_session",
        "panel_size",
        "exposure_ms",
        "feedback",
        "expected_participants",
        "oracle_risk_acknowledgement",
        "equivalence_margin",
    ]
    fields = [
        "name",
        "slug",
        "description",
        *PROTOCOL_FIELDS,
        "consent_text",
        "completion_url",
        "completion_code",
        "results_public",
        "is_published",
        "closed_at",
    ]
    readonly_fields = ["is_published", "closed_at"]
    filter_horizontal = ["images", "practice_images", "catch_images"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [LeakAuditInline]
    actions = ["publish", "audit", "unpublish", "close"]

    def get_readonly_fields(self, request: HttpRequest, obj: Study | None = None) -> list[str]:
        if obj is not None and obj.is_published:
            return [*self.readonly_fields, *self.PROTOCOL_FIELDS]
        return list(self.readonly_fields)

    @admin.display(description="Real / synthetic")
    def image_counts(self, study: Study) -> str:
        real = study.images.filter(kind=ImageKind.REAL).count()
        return f"{real} / {study.images.count() - real}"

    @admin.display(description="Links")
    def links(self, study: Study) -> str:
        return format_html(
            '<a href="{}">quiz</a> · <a href="{}">statistics</a>',
            reverse("quiz:start", args=[study.slug]),
            reverse("quiz:stats", args=[study.slug]),
        )

    @admin.action(description="Publish the selected studies (after a leak audit)")
    def publish(self, request: HttpRequest, queryset: QuerySet[Study]) -> None:
        for study in queryset:
            _start_audit(study, publish_on_pass=True)
            self.message_user(
                request,
                f"Auditing {study} for leaks in the background; it is published if it passes. "
                "The result appears on the study's page.",
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


def _start_audit(study: Study, publish_on_pass: bool) -> LeakAudit:
    return jobs.create(LeakAudit, study=study, publish_on_pass=publish_on_pass)


@admin.register(Participant)
class ParticipantAdmin(admin.ModelAdmin):
    list_display = ["token", "study", "expertise", "consented_at"]
    list_filter = ["study", "expertise"]
    readonly_fields = ["token", "study", "expertise", "consented_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(Guess)
class GuessAdmin(admin.ModelAdmin):
    list_display = ["panel", "answer", "correct", "response_ms", "created_at"]
    list_filter = ["correct", "answer", "panel__round__participant__study"]
    readonly_fields = ["panel", "answer", "correct", "response_ms", "created_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
