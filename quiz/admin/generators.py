"""Generators: create one trained elsewhere and upload its images, masks and training manifest;
see the import reports, and what a generator trained here (a run) holds, read-only."""

from django import forms
from django.contrib import admin, messages
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from quiz import jobs
from quiz.admin.datasets import (
    MultipleFileField,
    UploadsCleanedUp,
    check_upload_size,
    report_html,
)
from quiz.admin.job_actions import warning_for
from quiz.ingest.uploads import store_uploads
from quiz.models import Generator, GeneratorImport


class GeneratorForm(forms.ModelForm):
    upload = MultipleFileField(
        required=False,
        help_text="The generator's images (PNG, JPEG, TIFF, BMP, DICOM) or zip archives of them, "
        "exactly as it made them: no crop is applied. Imported in the background; the report "
        "appears below.",
    )
    masks = MultipleFileField(
        required=False,
        help_text="Optional label masks (files or zips), paired with the images of this upload "
        "by file name without folder or extension: 0001.png pairs with 0001.png or 0001.tif.",
    )
    manifest = forms.FileField(
        required=False,
        label="Training manifest",
        help_text="The real images it trained on: CSV or text, one entry a line, each a file "
        "name of the dataset it was trained on or a pixel SHA-256 (docs/ingest.md). Replaces "
        "the previous manifest. Without one, the held-out status of real panels beside its "
        "images is unknown.",
    )

    class Meta:
        model = Generator
        fields = ["name", "description", "trained_on"]

    def clean(self) -> dict:
        cleaned = super().clean()
        files = [*cleaned.get("upload", []), *cleaned.get("masks", [])]
        if cleaned.get("manifest"):
            files.append(cleaned["manifest"])
        check_upload_size(files)
        if cleaned.get("masks") and not cleaned.get("upload"):
            self.add_error("masks", "Masks pair with the images of the same upload: add them.")
        return cleaned


class GeneratorImportInline(admin.TabularInline):
    model = GeneratorImport
    extra = 0
    can_delete = False
    fields = ["created_at", "status", "imported_count", "duplicate_count", "report", "error"]
    readonly_fields = fields
    ordering = ["-created_at"]
    verbose_name = "import"

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    @admin.display(description="Report")
    def report(self, job: GeneratorImport) -> str:
        return report_html(job)


@admin.register(Generator)
class GeneratorAdmin(UploadsCleanedUp):
    form = GeneratorForm
    inlines = [GeneratorImportInline]
    list_display = ["name", "origin", "trained_on", "image_count", "training_record", "created_at"]
    search_fields = ["name", "description"]
    readonly_fields = ["origin", "training_record", "images"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Generator]:
        return super().get_queryset(request).annotate(image_total=Count("images"))

    def get_fields(self, request: HttpRequest, obj: Generator | None = None) -> list[str]:
        if obj is not None and not obj.is_external:
            return ["name", "description", "trained_on", *self.readonly_fields]
        fields = ["name", "description", "trained_on", "upload", "masks", "manifest"]
        return fields + (self.readonly_fields if obj is not None else [])

    def get_readonly_fields(self, request: HttpRequest, obj: Generator | None = None) -> list:
        if obj is not None and not obj.is_external:
            # A run's generator mirrors the run: its images come from checkpoints, its record of
            # training images is the run's.
            return ["name", "description", "trained_on", *self.readonly_fields]
        return self.readonly_fields

    def get_inlines(self, request: HttpRequest, obj: Generator | None) -> list:
        return self.inlines if obj is None or obj.is_external else []

    @admin.display(description="Origin")
    def origin(self, generator: Generator) -> str:
        if generator.pk is None or generator.is_external:
            return "trained elsewhere (images imported)"
        run = generator.training_run
        url = reverse("admin:quiz_trainingrun_change", args=[run.pk])
        return format_html('trained here: run <a href="{}">{}</a>', url, run)

    @admin.display(description="Images")
    def image_count(self, generator: Generator) -> int:
        return generator.image_total

    @admin.display(description="Images")
    def images(self, generator: Generator) -> str:
        if generator.pk is None:
            return "-"
        count = generator.images.count()
        with_mask = generator.images.exclude(mask="").count()
        url = reverse("admin:quiz_image_changelist") + f"?generator__id__exact={generator.pk}"
        return format_html('<a href="{}">{} image(s)</a>, {} with a mask', url, count, with_mask)

    @admin.display(description="Training record")
    def training_record(self, generator: Generator) -> str:
        """What the held-out rule checks the study's real panels against."""
        if generator.pk is None:
            return "-"
        if not generator.is_external:
            count = generator.training_run.trained_images.count()
            return f"the run's: {count} real image(s) it trained on"
        if generator.manifest_hashes is None:
            return "none (no training manifest): held-out status of real panels unknown"
        return f"training manifest: {len(generator.manifest_hashes)} pixel hash(es)"

    def save_model(
        self, request: HttpRequest, obj: Generator, form: GeneratorForm, change: bool
    ) -> None:
        super().save_model(request, obj, form, change)
        if not obj.is_external:
            return
        images = form.cleaned_data.get("upload") or []
        masks = form.cleaned_data.get("masks") or []
        manifest = form.cleaned_data.get("manifest")
        if not images and not manifest:
            return
        job = GeneratorImport(generator=obj)
        job.uploads = _store(request, job.upload_dir, images)
        job.mask_uploads = _store(request, f"{job.upload_dir}/masks", masks)
        job.manifest_upload = _store(
            request, f"{job.upload_dir}/manifest", [manifest] if manifest else []
        )
        job.save()
        jobs.submit(job, notify=warning_for(request))
        what = [f"{len(images)} image file(s)"] if images else []
        what += [f"{len(masks)} mask file(s)"] if masks else []
        what += ["the training manifest"] if manifest else []
        messages.info(request, f"Importing {' and '.join(what)} in the background.")


def _store(request: HttpRequest, folder: str, files: list) -> list[dict[str, str]]:
    # Into the request's list first, so that the admin deletes them if the save fails later.
    before = len(request.stored_uploads)
    store_uploads(folder, files, stored=request.stored_uploads)
    return request.stored_uploads[before:]
