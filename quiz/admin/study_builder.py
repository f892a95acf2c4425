"""The "Build a study" screen: choose a dataset and generators, see the plan, create the study.

The screen runs quiz.studies.builder, as `manage.py create_study` does: a preview shows what the
plan chose and every image it refused and why; creating re-plans with the same choices and seed
and creates only if the plan still chooses the images the preview showed.
"""

from collections.abc import Callable

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.text import slugify

from quiz.models import Dataset, Generator, Layout, Study
from quiz.studies.builder import BuildError, StudyPlan, create_study, image_label, plan_study


class StudyBuilderForm(forms.Form):
    name = forms.CharField(max_length=200)
    slug = forms.SlugField(
        max_length=50, required=False, help_text="Its URL: /quiz/SLUG/. Blank: from the name."
    )
    real = forms.ModelChoiceField(
        Dataset.objects.order_by("name"),
        label="Real images from",
        help_text="Its held-out part: usable images that no chosen generator trained on.",
    )
    generators = forms.ModelMultipleChoiceField(
        Generator.objects.order_by("name"),
        widget=forms.CheckboxSelectMultiple,
        help_text="Each gives the same number of images, so that they can be compared.",
    )
    real_count = forms.IntegerField(
        min_value=1, required=False, help_text="Blank: as many as the synthetic images together."
    )
    per_generator = forms.IntegerField(
        min_value=1,
        required=False,
        label="Images per generator",
        help_text="Blank: the most that every generator can give.",
    )
    layout = forms.ChoiceField(choices=Layout.choices, initial=Layout.GRID)
    seed = forms.IntegerField(
        min_value=0, initial=0, help_text="The same seed over the same images draws the same study."
    )
    mixed_modes_acknowledgement = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Only for a plan that mixes grey and colour images, which is refused without "
        "it: why the mix is acceptable. The study keeps it, and its report prints it.",
    )
    publish = forms.BooleanField(
        required=False,
        help_text="Then publish it: the rules and the leak audit run in the background, and "
        "it is published if it passes (as the Publish action does).",
    )
    # What the preview chose: creating refuses a plan that chose other images since.
    fingerprint = forms.CharField(required=False, widget=forms.HiddenInput)

    def clean(self) -> dict:
        cleaned = super().clean()
        if self.errors:
            return cleaned
        cleaned["slug"] = cleaned.get("slug") or slugify(cleaned["name"])[:50]
        if not cleaned["slug"]:
            self.add_error("slug", "The name gives no slug: type one.")
        elif Study.objects.filter(slug=cleaned["slug"]).exists():
            self.add_error("slug", f"A study with the slug “{cleaned['slug']}” exists already.")
        try:
            self.plan = plan_study(
                cleaned["real"],
                list(cleaned["generators"].select_related("training_run")),
                real_count=cleaned.get("real_count"),
                per_generator=cleaned.get("per_generator"),
                seed=cleaned["seed"],
                mixed_modes_acknowledgement=cleaned.get("mixed_modes_acknowledgement", ""),
            )
        except BuildError as exc:
            raise forms.ValidationError(str(exc)) from exc
        return cleaned


def build_study_view(
    model_admin, request: HttpRequest, publish: Callable[[Study], None]
) -> HttpResponse:
    """The screen; `publish(study)` starts the study's publish audit."""
    if not model_admin.has_add_permission(request):
        raise PermissionDenied
    plan: StudyPlan | None = None
    if request.method == "POST":
        data = request.POST.copy()  # mutable: the plan shown carries its own fingerprint
        form = StudyBuilderForm(data)
        if form.is_valid():
            plan = form.plan
            if "create" in request.POST and not plan.problems:
                if form.cleaned_data["fingerprint"] == plan.fingerprint:
                    return _create(model_admin, request, form, publish)
                messages.warning(
                    request,
                    "The images changed since the preview (or there was none): check the plan "
                    "below, then create the study.",
                )
            data["fingerprint"] = plan.fingerprint
    else:
        form = StudyBuilderForm(initial=_initial(request))
    context = {
        **model_admin.admin_site.each_context(request),
        "title": "Build a study",
        "opts": model_admin.model._meta,
        "form": form,
        "plan": plan,
        "plan_rows": _plan_rows(plan) if plan else None,
    }
    return TemplateResponse(request, "admin/quiz/study/build.html", context)


def _initial(request: HttpRequest) -> dict:
    """Choices passed in the URL (the image list's action): ?real=<id>&generators=<id>,<id>."""
    initial: dict = {"seed": 0, "layout": Layout.GRID}
    if request.GET.get("real", "").isdigit():
        initial["real"] = int(request.GET["real"])
    ids = [int(pk) for pk in request.GET.get("generators", "").split(",") if pk.isdigit()]
    if ids:
        initial["generators"] = ids
    return initial


def _plan_rows(plan: StudyPlan) -> dict:
    return {
        "real": [image_label(image) for image in plan.real],
        "synthetic": [
            (generator, [image_label(image) for image in plan.synthetic.get(generator.pk, [])])
            for generator in plan.generators
        ],
        "panel_size": plan.panel_size if plan.images else None,
        "modes": plan.modes,
    }


def _create(model_admin, request, form: StudyBuilderForm, publish) -> HttpResponseRedirect:
    data, plan = form.cleaned_data, form.plan
    try:
        study = create_study(plan, name=data["name"], slug=data["slug"], layout=data["layout"])
    except BuildError as exc:  # a study took the slug between the check and now
        messages.error(request, str(exc))
        return HttpResponseRedirect(request.get_full_path())
    summary = (
        f"Created {study} with {len(plan.real)} real images and {plan.per_generator} from each "
        f"of {len(plan.generators)} generator(s), panel size {study.panel_size} px; "
        f"{len(plan.refused)} image(s) refused (named on the build screen)."
    )
    if data["publish"]:
        publish(study)
        summary += " Auditing it for leaks in the background; it is published if it passes."
    else:
        summary += " Set its protocol, then publish it."
    model_admin.message_user(request, summary)
    return HttpResponseRedirect(reverse("admin:quiz_study_change", args=[study.pk]))
