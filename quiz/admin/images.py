"""Every image, real or synthetic, read-only; the study builder can start from a selection."""

from urllib.parse import urlencode

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html

from quiz.models import Image, ImageKind


@admin.register(Image)
class ImageAdmin(admin.ModelAdmin):
    list_display = [
        "thumbnail",
        "pk",
        "kind",
        "dataset",
        "split",
        "generator",
        "seed",
        "width",
        "height",
    ]
    list_filter = ["kind", "split", "review", "crop_origin", "dataset", "generator"]
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
        "generator",
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

    @admin.action(description="Build a study from the selected images' dataset and generators")
    def create_study(self, request: HttpRequest, queryset: QuerySet[Image]):
        """Opens the study builder with the selection's dataset and generators chosen.

        The builder, not the selection, chooses the images: held-out real images no generator
        trained on, and the same number from each generator, over every image and not one page.
        """
        datasets = set(
            queryset.filter(kind=ImageKind.REAL).values_list("dataset_id", flat=True).distinct()
        )
        if len(datasets) > 1:
            self.message_user(
                request,
                "The selected real images come from several datasets: a study's real images "
                "come from one. Select images of one dataset (or none), then try again.",
                messages.ERROR,
            )
            return None
        generators = queryset.filter(kind=ImageKind.SYNTHETIC).values_list(
            "generator_id", flat=True
        )
        query = {"generators": ",".join(str(pk) for pk in sorted(set(generators)))}
        if datasets:
            query["real"] = str(datasets.pop())
        return HttpResponseRedirect(f"{reverse('admin:quiz_study_build')}?{urlencode(query)}")
