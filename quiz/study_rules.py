"""The rules a study must meet before it is published; each problem names what breaks it."""

from quiz.design import DesignError, session_length
from quiz.models import PANEL_LETTERS, ImageKind, Study


def study_problems(study: Study) -> list[str]:
    """Every reason the study cannot be published yet; empty when it can."""
    problems: list[str] = []
    if study.panels_per_round > len(PANEL_LETTERS):
        problems.append(f"At most {len(PANEL_LETTERS)} panels per round.")
    pools = test_pools(study)
    try:
        session_length(
            study.panels_per_round,
            len(pools[ImageKind.REAL]),
            len(pools[ImageKind.SYNTHETIC]),
            study.catch_images.count(),
            study.rounds_per_session,
        )
    except DesignError as exc:
        problems.append(f"Not enough images: {exc}.")
    return problems


def test_pools(study: Study) -> dict[str, list[int]]:
    """The image ids trials are drawn from, by kind: the study's images less practice and catch."""
    reserved = set(study.practice_images.values_list("pk", flat=True))
    reserved |= set(study.catch_images.values_list("pk", flat=True))
    pools: dict[str, list[int]] = {ImageKind.REAL: [], ImageKind.SYNTHETIC: []}
    for pk, kind in study.images.order_by("pk").values_list("pk", "kind"):
        if pk not in reserved:
            pools[kind].append(pk)
    return pools
