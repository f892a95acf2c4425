"""Training runs and the generation jobs they start: launch, watch, generate, cancel, retry."""

from django import forms
from django.contrib import admin, messages
from django.db import transaction
from django.db.models import QuerySet, Sum
from django.http import HttpRequest
from django.template.response import TemplateResponse

from ganengine import families
from quiz import jobs
from quiz.admin.datasets import split_summary
from quiz.admin.job_actions import cancel_jobs, retry_jobs, warning_for
from quiz.analysis.charts import loss_curve_svg
from quiz.models import GenerationJob, Split, TrainingRun


def _preset_choices() -> list[tuple[str, list[tuple[str, str]]]]:
    """Every registered family's presets, grouped by family, as "<family>:<preset name>" and
    labelled with the preset's name and its description (network, resolution, steps, time)."""
    return [
        (
            family.label,
            [(f"{family.name}:{name}", _preset_label(family, name)) for name in family.presets()],
        )
        for family in families.all()
    ]


def _preset_label(family, name: str) -> str:
    description = family.config_class.preset_description(name)
    return f"{name}: {description}" if description else name


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
                f"Dataset {dataset} has no images in its train part ({split_summary(dataset)}): "
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
            jobs.submit(obj, notify=warning_for(request))

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
                _start_generation(run, form.cleaned_data["count"], warning_for(request))
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
        cancel_jobs(self, request, queryset)

    @admin.action(description="Retry the selected runs (resumes from the latest checkpoint)")
    def retry(self, request: HttpRequest, queryset: QuerySet[TrainingRun]) -> None:
        retry_jobs(self, request, queryset)


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
        cancel_jobs(self, request, queryset)

    @admin.action(description="Retry the selected generation jobs (continues after the last image)")
    def retry(self, request: HttpRequest, queryset: QuerySet[GenerationJob]) -> None:
        retry_jobs(self, request, queryset)
