"""Every image, real or synthetic, read-only; a study starts from a selection of them."""

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from quiz.models import Image, Study
from quiz.studies.panels import refresh_panel_size


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
        study = Study.objects.create(name=f"Study {timezone.now():%Y-%m-%d %H:%M}")
        study.images.set(images)
        sizing = refresh_panel_size(study)
        self.message_user(
            request,
            f"Created {study} with {len(images)} images ({sizing.note}); images added later "
            "lower the panel size if they are smaller. Publish it when ready.",
        )
        return HttpResponseRedirect(reverse("admin:quiz_study_change", args=[study.pk]))
