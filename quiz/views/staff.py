"""Staff-only views: media is never served by URL, so staff pages stream it through here."""

from django.contrib import admin
from django.contrib.admin.views.decorators import staff_member_required
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from ganengine.masks import render as render_mask
from quiz.analysis.charts import loss_curve_svg
from quiz.imaging import decode_png, encode_png
from quiz.models import Image, Study, TrainingRun
from quiz.studies.rounds import StudyNotReady, start_session
from quiz.views.participant import enter_session


@staff_member_required
@require_GET
def image_file(request: HttpRequest, pk: int) -> FileResponse:
    image = get_object_or_404(Image, pk=pk)
    return FileResponse(image.file.open("rb"), content_type="image/png")


@staff_member_required
@require_GET
def image_source(request: HttpRequest, pk: int) -> FileResponse:
    """The decoded frame a real image was cropped from (crop review)."""
    image = get_object_or_404(Image, pk=pk)
    if not image.source_file:
        raise Http404("This image has no stored source frame.")
    return FileResponse(image.source_file.open("rb"), content_type="image/png")


@staff_member_required
@require_GET
def image_mask(request: HttpRequest, pk: int) -> HttpResponse:
    """The image's label mask, with labels spread over the grey range so a person can see them."""
    image = get_object_or_404(Image, pk=pk)
    if not image.mask:
        raise Http404("This image has no mask.")
    with image.mask.open("rb") as handle:
        labels = decode_png(handle.read())
    return HttpResponse(encode_png(render_mask(labels)), content_type="image/png")


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


@staff_member_required
@require_GET
def study_near_copies(request: HttpRequest, pk: int) -> HttpResponse:
    """The near-copies the study's latest audit found, each beside the training image it copies.

    The pairs come from the audit's report: the memorisation check runs in the audit task, never
    in a web request.
    """
    study = get_object_or_404(Study, pk=pk)
    audit = study.audits.filter(report__has_key="near_copies").order_by("-pk").first()
    pairs = audit.report["near_copies"] if audit else []
    ids = {pair["synthetic_id"] for pair in pairs} | {pair["training_id"] for pair in pairs}
    images = Image.objects.in_bulk(ids)
    rows = [
        {
            **pair,
            "synthetic": images.get(pair["synthetic_id"]),
            "training": images.get(pair["training_id"]),
        }
        for pair in pairs
    ]
    context = {
        **admin.site.each_context(request),
        "title": f"Near-copies of training images in {study}",
        "opts": Study._meta,
        "study": study,
        "audit": audit,
        "rows": rows,
    }
    return render(request, "admin/quiz/study/near_copies.html", context)


@staff_member_required
@require_http_methods(["GET", "POST"])
def take_as_pilot(request: HttpRequest, pk: int) -> HttpResponse:
    """Staff take the live study as a participant would, marked pilot (never counted).

    GET explains and asks; the POST starts the pilot session in this browser, replacing any
    session of the study it held, and goes to the first round.
    """
    study = get_object_or_404(Study, pk=pk)
    problem = ""
    if not study.is_published:
        problem = "The study is not published: its panels are rendered when it is."
    elif study.is_closed:
        problem = "The study is closed: it records no more rounds."
    if request.method == "POST" and not problem:
        try:
            participant = start_session(study, is_pilot=True)
        except StudyNotReady as exc:
            problem = f"The study cannot start a session: {exc}."
        else:
            enter_session(request, study, participant)
            return redirect("quiz:round", slug=study.slug)
    context = {
        **admin.site.each_context(request),
        "title": f"Take {study} as a pilot",
        "opts": Study._meta,
        "study": study,
        "problem": problem,
    }
    return render(request, "admin/quiz/study/pilot.html", context, status=409 if problem else 200)
