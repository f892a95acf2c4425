"""How often each image of a study has been shown, for filling rounds least-shown first.

Counting every trial row of a study whenever a round opens costs time in proportion to the
study's size (tens of milliseconds at tens of thousands of trials, on every new round). Each
process therefore keeps a study's counts up to a *mark* (a RoundPanel id) and asks the database
only for the rows above it, so a round's query reads the last few seconds of rows, however
large the study has grown. The counts stay exact:

- A mark is the highest id a query saw, and it is folded into the kept counts only
  SETTLE_SECONDS after it was seen. PostgreSQL hands out ids before commit, not in commit
  order, so a round committed a moment late may hold a lower id than one already visible; by
  the time its id falls below the mark, the transaction that took it (a round's insert lasts
  milliseconds) has committed and is counted. (SQLite's writes are serialised, so no gap ever
  opens there.)
- Rows are only ever added during a study's run; a deleted participant is forgotten at the next
  full recount, every RECOUNT_SECONDS.

Every process keeps its own counts and reads other processes' new rows from the database, so
gunicorn workers agree. Audit participants' rounds are not showings (the leak audit deletes them).
"""

import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Count, Max, QuerySet

from quiz.models import RoundPanel, Study

SETTLE_SECONDS = 10.0
RECOUNT_SECONDS = 300.0


@dataclass
class _Tally:
    kept: Counter = field(default_factory=Counter)  # showings among rows with id <= mark
    mark: int = 0
    seen: list[tuple[float, int]] = field(default_factory=list)  # (when, highest id seen then)
    folded_at: float = 0.0
    started_at: float = 0.0


# Keyed by id and creation time: a test database that rolls back hands the same id out again.
_tallies: dict[tuple[int, datetime], _Tally] = {}
_lock = threading.Lock()


def showings(study: Study) -> Counter:
    """Image id → how many rounds of the study have shown it, the audit's and pilots' aside."""
    rows = RoundPanel.objects.filter(
        round__participant__study=study,
        round__participant__is_audit=False,
        round__participant__is_pilot=False,
    )
    key = (study.pk, study.created_at)
    now = time.monotonic()
    with _lock:
        tally = _tallies.get(key)
        if tally is None or now - tally.started_at > RECOUNT_SECONDS:
            tally = _tallies[key] = _Tally(folded_at=now, started_at=now)
        settled = [pk for when, pk in tally.seen if now - when >= SETTLE_SECONDS]
        # Fold at most once per SETTLE_SECONDS: one small extra query now and then.
        if settled and now - tally.folded_at >= SETTLE_SECONDS:
            mark = max(settled)
            counts, _ = _count(rows.filter(pk__gt=tally.mark, pk__lte=mark))
            tally.kept.update(counts)
            tally.mark = mark
            tally.seen = [(when, pk) for when, pk in tally.seen if now - when < SETTLE_SECONDS]
            tally.folded_at = now
        kept, mark = Counter(tally.kept), tally.mark
    recent, highest = _count(rows.filter(pk__gt=mark))
    with _lock:
        if highest > mark and (not tally.seen or highest > tally.seen[-1][1]):
            tally.seen.append((now, highest))
    return kept + recent


def _count(rows: QuerySet) -> tuple[Counter, int]:
    """(image id → rows, highest row id or 0) over the given rows, in one query."""
    counts: Counter = Counter()
    highest = 0
    for image_id, times, last in (
        rows.order_by().values_list("image_id").annotate(times=Count("pk"), last=Max("pk"))
    ):
        counts[image_id] = times
        highest = max(highest, last)
    return counts, highest
