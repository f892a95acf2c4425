"""A study's panels: every image rendered once, at publish, to the bytes participants are served.

The panel size is derived from every image of the study, trials, practice and catch alike: the
smallest native panel side among them (`refresh_panel_size`, run whenever the study's images
change and again at publish), so that no image is ever enlarged. An enlarged image is blurrier
than a native one whatever its realism, and that blur alone told 32 px synthetic images from
367 px scans (issue 19). Rendering refuses an image that would be enlarged all the same.

Each image gets a second rendition at publish, for the viewer (a click enlarges a panel): at the
study's viewer size, the smallest native panel side among its images, uncapped by PANEL_SIZE_CAP
(up to VIEWER_SIZE_CAP), so a 760 px scan shown at 256 px in the grid can be inspected at 760 px.
One size for every image, not each image's own: a rendition at each image's native side would
tell a 760 px scan from a 256 px synthetic image by its dimensions (and the sharpness a browser
upsamples), which is the leak the panel size exists to prevent. So both renditions of every image
have one width, one height and one byte length across the study.

Panels have one mode per study: grey when all of its images are grey, RGB when any is in colour,
grey images then rendered as three equal channels. A PNG's mode is in its header and sets its
stored length, so panels of two modes would tell the classes apart by their bytes wherever the
modes follow the class. A study that mixes grey and colour images shows the difference in the
pixels all the same, which is a rendering cue: publishing refuses it unless staff acknowledge it
(quiz.studies.rules.mode_problems, with the counts of `study_modes`).

The panel view only reads these stored bytes. Real and synthetic images go through the same
decode → render_panel → encode_panel_png path, so the served files differ in nothing but pixels:
same format, same dimensions, same byte length, and serving time that does not depend on how
large or how compressible the source image was.
"""

from collections.abc import Iterable
from dataclasses import dataclass

from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import OuterRef, Subquery

from quiz.imaging import RGB, as_rgb, encode_panel_png, render_panel
from quiz.models import Image, ImageKind, Study, StudyPanel

# Panels larger than this cost bandwidth (stored PNGs are uncompressed) and add nothing a screen
# shows.
PANEL_SIZE_CAP = 512
# The viewer's rendition is fetched only when a participant enlarges a panel; a stored PNG of this
# side is 1 MiB.
VIEWER_SIZE_CAP = 1024
# The panel size of a study without images yet (the model's default).
EMPTY_STUDY_PANEL_SIZE = 256


class PanelRenderError(Exception):
    """An image of the study cannot be rendered; the message names it."""


def native_side(image: Image) -> int:
    """The side of the square a panel of the image is rendered from (quiz.imaging.render_panel
    crops the centre square of the panel region: panel_box, or the whole image without one)."""
    if image.panel_box:
        left, top, right, bottom = image.panel_box
        return min(right - left, bottom - top)
    return min(image.width, image.height)


def panel_size_for(images) -> int:
    """The largest square size at which no image, of either kind, is upsampled."""
    sides = [native_side(image) for image in images]
    return min([*sides, PANEL_SIZE_CAP]) if sides else EMPTY_STUDY_PANEL_SIZE


def viewer_size_for(images) -> int:
    """The side of every image's viewer rendition: the largest at which no image is upsampled."""
    sides = [native_side(image) for image in images]
    return min([*sides, VIEWER_SIZE_CAP]) if sides else EMPTY_STUDY_PANEL_SIZE


@dataclass(frozen=True)
class PanelSizing:
    """A study's images' native panel sides and the size every panel is shown at."""

    size: int
    smallest: int | None  # None: the study has no images
    largest: int | None
    upsampled: list[tuple[int, int]]  # (image id, native side) of images smaller than `size`
    modes: "StudyModes | None" = None

    @property
    def note(self) -> str:
        """What staff and the report's methods are told about the panels' size (and their mode,
        where the study has colour: a grey study's note says nothing of modes)."""
        if self.smallest is None:
            return f"no images yet; panels will be shown at {self.size} px"
        if self.smallest == self.largest:
            note = f"images {self.smallest} px natively, shown at {self.size} px"
        else:
            note = (
                f"images from {self.smallest} px to {self.largest} px natively, all shown at "
                f"{self.size} px"
            )
        if self.modes is not None and self.modes.has_colour:
            note += f" as {self.modes.note}"
        return note


@dataclass(frozen=True)
class StudyModes:
    """How many of a study's images (trials, practice, catch) are grey and in colour, by class."""

    real: dict[str, int]  # {"grey": n, "colour": m}
    synthetic: dict[str, int]

    @classmethod
    def of(cls, rows: Iterable[tuple[str, int]]) -> "StudyModes":
        """From (kind, channels) of each image."""
        counts = {kind: {"grey": 0, "colour": 0} for kind in (ImageKind.REAL, ImageKind.SYNTHETIC)}
        for kind, channels in rows:
            counts[kind]["colour" if channels == RGB else "grey"] += 1
        return cls(real=counts[ImageKind.REAL], synthetic=counts[ImageKind.SYNTHETIC])

    @property
    def has_colour(self) -> bool:
        return bool(self.real["colour"] or self.synthetic["colour"])

    @property
    def is_mixed(self) -> bool:
        grey = self.real["grey"] + self.synthetic["grey"]
        return bool(grey) and self.has_colour

    @property
    def reveals_class(self) -> bool:
        """One class all grey and the other all in colour: the mode alone tells them apart."""
        real, synthetic = (
            {mode for mode, n in kind.items() if n} for kind in (self.real, self.synthetic)
        )
        return len(real) == len(synthetic) == 1 and real != synthetic

    def counts(self) -> str:
        """Counts by class, e.g. `real: 10 grey, 2 colour; synthetic: 12 colour` (a class without
        images is left out)."""

        def one(kind: dict[str, int]) -> str:
            return ", ".join(f"{n} {mode}" for mode, n in kind.items() if n)

        return "; ".join(
            f"{name}: {one(kind)}"
            for name, kind in (("real", self.real), ("synthetic", self.synthetic))
            if any(kind.values())
        )

    @property
    def note(self) -> str:
        """What staff and the report's methods are told about the panels' mode."""
        if not self.has_colour:
            return "grey panels"
        if not self.is_mixed:
            return "colour (RGB) panels"
        return f"RGB panels of grey and colour images ({self.counts()})"

    def mix_finding(self) -> str | None:
        """Why a mix of modes is a rendering cue, with the counts; None when the modes are one."""
        if not self.is_mixed:
            return None
        if self.reveals_class:
            why = (
                "one class is all grey and the other all in colour, so the colour alone tells "
                "a participant which images are real"
            )
        else:
            why = (
                "grey images are shown as colourless RGB panels, a difference a participant "
                "can see whatever the images' realism"
            )
        return f"The study mixes grey and colour images ({self.counts()}): {why}."


def study_modes(study: Study) -> StudyModes:
    """The study's images by class and mode (Image.channels, set from the stored pixels)."""
    images = Image.objects.filter(pk__in=study_image_ids(study))
    return StudyModes.of(images.values_list("kind", "channels"))


def study_sizing(study: Study) -> PanelSizing:
    """The study's panel size against the native sides of all of its images."""
    images = list(Image.objects.filter(pk__in=study_image_ids(study)).order_by("pk"))
    sides = {image.pk: native_side(image) for image in images}
    return PanelSizing(
        size=study.panel_size,
        smallest=min(sides.values(), default=None),
        largest=max(sides.values(), default=None),
        upsampled=[(pk, side) for pk, side in sides.items() if side < study.panel_size],
        modes=StudyModes.of((image.kind, image.channels) for image in images),
    )


def refresh_panel_size(study: Study) -> PanelSizing:
    """Derive the study's panel size from all of its images and store it; a published study
    keeps its size (its panels are rendered and its participants have seen them)."""
    if not study.is_published:
        size = panel_size_for(Image.objects.filter(pk__in=study_image_ids(study)))
        if size != study.panel_size:
            study.panel_size = size
            Study.objects.filter(pk=study.pk).update(panel_size=size)
    return study_sizing(study)


def images_changed(sender, instance, action: str, reverse: bool, pk_set, **kwargs) -> None:
    """m2m_changed receiver for a study's three image lists (connected in quiz.apps): whichever
    door adds or removes images (the admin's form, a command, a shell), the panel size follows."""
    if action not in {"post_add", "post_remove", "post_clear"}:
        return
    if not reverse:
        refresh_panel_size(instance)
        return
    # image.studies.add(...): the studies changed are in pk_set (none known after a clear).
    for study in Study.objects.filter(pk__in=pk_set or []):
        refresh_panel_size(study)


def study_image_ids(study: Study) -> set[int]:
    """Every image a participant of the study can be shown: trials, practice and catch."""
    ids = set(study.images.values_list("pk", flat=True))
    ids |= set(study.practice_images.values_list("pk", flat=True))
    ids |= set(study.catch_images.values_list("pk", flat=True))
    return ids


def render_study_panels(study: Study) -> int:
    """(Re-)render every panel of the study at its panel size, and its viewer rendition at the
    study's viewer size; returns how many panels were stored.

    Renders into memory first and swaps the rows in one transaction, so a broken image leaves
    the study's previous panels in place.
    """
    images = list(Image.objects.filter(pk__in=study_image_ids(study)).order_by("pk"))
    viewer_size = max(viewer_size_for(images), study.panel_size)
    in_colour = any(image.channels == RGB for image in images)
    rendered: list[tuple[int, bytes, bytes]] = []
    for image in images:
        side = native_side(image)
        if side < study.panel_size:
            # Defence in depth: the panel size is derived so that this cannot happen, unless it
            # was set by hand or the study changed without its signal.
            raise PanelRenderError(
                f"Image #{image.pk} is {side} px natively but the panel size is "
                f"{study.panel_size} px: it would be enlarged, and enlarged images are blurred "
                "in a way the other class is not. Lower the panel size or remove the image."
            )
        try:
            source = image.panel_pixels()
            if in_colour:  # one mode per study (see the module's docstring)
                source = as_rgb(source)
            rendered.append(
                (
                    image.pk,
                    encode_panel_png(render_panel(source, study.panel_size)),
                    encode_panel_png(render_panel(source, viewer_size)),
                )
            )
        except Exception as exc:  # a broken file must be named, not crash the publish
            raise PanelRenderError(f"Image #{image.pk} cannot be rendered: {exc}") from exc
    _check_one_length(rendered)
    old = list(study.panels.all())
    with transaction.atomic():
        StudyPanel.objects.filter(pk__in=[panel.pk for panel in old]).delete()
        for image_id, data, full in rendered:
            StudyPanel.objects.create(
                study=study,
                image_id=image_id,
                file=ContentFile(data, name="panel.png"),
                full_file=ContentFile(full, name="panel.png"),
            )
    for panel in old:
        for stored in (panel.file, panel.full_file):
            if stored:
                stored.storage.delete(stored.name)
    return len(rendered)


def _check_one_length(rendered: list[tuple[int, bytes, bytes]]) -> None:
    """Every panel, and every viewer rendition, has one byte length: stored PNG blocks make the
    length a function of the dimensions and the mode, and both are one per study. Checked rather
    than assumed: a length that differed by kind would be a leak (docs/quiz-integrity.md)."""
    for index, what in ((1, "panel"), (2, "viewer rendition")):
        lengths = {len(row[index]) for row in rendered}
        if len(lengths) > 1:
            raise PanelRenderError(
                f"The study's {what}s came out in {len(lengths)} byte lengths "
                f"({', '.join(map(str, sorted(lengths)))}): they must all be one."
            )


def stored_panel(field: str = "file") -> Subquery:
    """For RoundPanel rows: the file name of their study's rendered panel of their image
    (`field` "full_file": its viewer rendition).

    An annotation, so that serving a panel is one query; None where the study was not rendered.
    """
    return Subquery(
        StudyPanel.objects.filter(
            study_id=OuterRef("round__participant__study_id"), image_id=OuterRef("image_id")
        ).values(field)[:1]
    )


def read_panel(name: str) -> bytes:
    """The stored bytes of a rendered panel, by the file name stored_panel gives."""
    with StudyPanel.file.field.storage.open(name, "rb") as handle:
        return handle.read()
