"""Staff-only views: media is never served by URL, so staff pages stream it through here."""

from django.contrib.admin.views.decorators import staff_member_required
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpRequest, JsonResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.http import require_GET

from quiz.charts import loss_curve_svg
from quiz.models import Image, TrainingRun


@staff_member_required
@require_GET
def image_file(request: HttpRequest, pk: int) -> FileResponse:
    image = get_object_or_404(Image, pk=pk)
    return FileResponse(image.file.open("rb"), content_type="image/png")


@staff_member_required
@require_GET
def run_samples(request: HttpRequest, pk: int) -> FileResponse:
    run = get_object_or_404(TrainingRun, pk=pk)
    if not run.samples or not default_storage.exists(run.samples):
        raise Http404("No samples yet.")
    response = FileResponse(default_storage.open(run.samples, "rb"), content_type="image/png")
    response["Cache-Control"] = "no-store"
    return response


@staff_member_required
@require_GET
def run_progress(request: HttpRequest, pk: int) -> JsonResponse:
    run = get_object_or_404(TrainingRun, pk=pk)
    return JsonResponse(
        {
            "status": run.status,
            "step": run.step,
            "total_steps": run.total_steps,
            "progress": run.progress,
            "images_per_second": run.images_per_second,
            "eta_seconds": run.eta_seconds,
            "error": run.error,
            "has_samples": bool(run.samples),
            "loss_svg": loss_curve_svg(run.metrics),
        }
    )
