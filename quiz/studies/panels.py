"""A study's panels: every image rendered once, at publish, to the bytes participants are served.

The panel view only reads these stored bytes. Real and synthetic images go through the same
decode → render_panel → encode_panel_png path, so the served files differ in nothing but pixels:
same format, same dimensions, same byte length, and serving time that does not depend on how
large or how compressible the source image was.
"""

from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import OuterRef, Subquery

from quiz.imaging import encode_panel_png, render_panel
from quiz.models import Image, Study, StudyPanel


class PanelRenderError(Exception):
    """An image of the study cannot be rendered; the message names it."""


def study_image_ids(study: Study) -> set[int]:
    """Every image a participant of the study can be shown: trials, practice and catch."""
    ids = set(study.images.values_list("pk", flat=True))
    ids |= set(study.practice_images.values_list("pk", flat=True))
    ids |= set(study.catch_images.values_list("pk", flat=True))
    return ids


def render_study_panels(study: Study) -> int:
    """(Re-)render every panel of the study at its panel size; returns how many were stored.

    Renders into memory first and swaps the rows in one transaction, so a broken image leaves
    the study's previous panels in place.
    """
    rendered: list[tuple[int, bytes]] = []
    for image in Image.objects.filter(pk__in=study_image_ids(study)).order_by("pk"):
        try:
            pixels = render_panel(image.panel_pixels(), study.panel_size)
            rendered.append((image.pk, encode_panel_png(pixels)))
        except Exception as exc:  # a broken file must be named, not crash the publish
            raise PanelRenderError(f"Image #{image.pk} cannot be rendered: {exc}") from exc
    old = list(study.panels.all())
    with transaction.atomic():
        StudyPanel.objects.filter(pk__in=[panel.pk for panel in old]).delete()
        for image_id, data in rendered:
            StudyPanel.objects.create(
                study=study, image_id=image_id, file=ContentFile(data, name="panel.png")
            )
    for panel in old:
        panel.file.storage.delete(panel.file.name)
    return len(rendered)


def stored_panel() -> Subquery:
    """For RoundPanel rows: the file name of their study's rendered panel of their image.

    An annotation, so that serving a panel is one query; None where the study was not rendered.
    """
    return Subquery(
        StudyPanel.objects.filter(
            study_id=OuterRef("round__participant__study_id"), image_id=OuterRef("image_id")
        ).values("file")[:1]
    )


def read_panel(name: str) -> bytes:
    """The stored bytes of a rendered panel, by the file name stored_panel gives."""
    with StudyPanel.file.field.storage.open(name, "rb") as handle:
        return handle.read()
