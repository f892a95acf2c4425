"""Datasets: the upload form, the ingest reports, the split, and the staff's crop review."""

from collections import Counter

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from quiz import jobs
from quiz.admin.job_actions import warning_for
from quiz.ingest.crop_review import CropError, adjust_crop, adjust_geometry, crop_counts, set_review
from quiz.ingest.profiles import profile_change_refusal
from quiz.ingest.uploads import UploadNotStored, delete_uploads, store_uploads
from quiz.models import (
    CropOrigin,
    Dataset,
    GeneratorImport,
    Image,
    ImageKind,
    IngestJob,
    Review,
    Split,
)


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    widget = MultipleFileInput

    def clean(self, data, initial=None):
        files = data if isinstance(data, list | tuple) else [data] if data else []
        return [super(MultipleFileField, self).clean(item, initial) for item in files]


def check_upload_size(files: list) -> list:
    """The files, or a form error naming the limit and the largest file when they exceed it."""
    total = sum(item.size for item in files)
    if total > settings.MAX_UPLOAD_BYTES:
        largest = max(files, key=lambda item: item.size)
        raise forms.ValidationError(
            f"The upload is {total / 2**20:.0f} MB, over the limit of "
            f"{settings.MAX_UPLOAD_BYTES / 2**20:.0f} MB (largest file: {largest.name})."
        )
    return files


class DatasetForm(forms.ModelForm):
    upload = MultipleFileField(
        required=False,
        help_text="Images (PNG, JPEG, TIFF, BMP, DICOM) or zip archives of them. They are "
        "ingested in the background; the report appears below.",
    )

    class Meta:
        model = Dataset
        fields = [
            "name",
            "profile",
            "description",
            "held_out_share",
            "split_seed",
            "frames_per_file",
        ]
        help_texts = {
            "split_seed": "Changing the seed or the share draws the split afresh over all the "
            "dataset's images. Runs already trained are unaffected: each run records the images "
            "it trained on, and publishing a study checks that record, not the current split.",
        }

    def clean_upload(self) -> list:
        return check_upload_size(self.cleaned_data["upload"])

    def clean_profile(self) -> str:
        """A dataset's images were ingested by its profile: refused once it holds any."""
        profile = self.cleaned_data["profile"]
        dataset = self.instance
        if dataset.pk is not None and "profile" in self.changed_data and dataset.images.exists():
            # The instance still holds the stored profile: the form's values come after clean.
            raise forms.ValidationError(profile_change_refusal(dataset))
        return profile


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
        return report_html(job)


def report_html(job: IngestJob | GeneratorImport) -> str:
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


class UploadsCleanedUp(admin.ModelAdmin):
    """An admin whose save_model stores uploaded files (in `request.stored_uploads`)."""

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
            # The transaction has rolled back: neither the object's changes nor a job are saved.
            self.message_user(request, f"Nothing was saved: {exc}.", messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())


@admin.register(Dataset)
class DatasetAdmin(UploadsCleanedUp):
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
                messages.info(request, f"Split {obj}: {split_summary(obj)}.")
        files = form.cleaned_data.get("upload") or []
        if files:
            job = IngestJob(dataset=obj)
            store_uploads(job.upload_dir, files, stored=request.stored_uploads)
            job.uploads = request.stored_uploads
            job.save()
            jobs.submit(job, notify=warning_for(request))
            messages.info(request, f"Ingesting {len(files)} uploaded file(s) in the background.")

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


def split_summary(dataset: Dataset) -> str:
    """The dataset's real images in each part, e.g. "40 train / 10 held out"."""
    real = dataset.images.filter(kind=ImageKind.REAL)
    train = real.filter(split=Split.TRAIN).count()
    held_out = real.filter(split=Split.HELD_OUT).count()
    return f"{train} train / {held_out} held out"
