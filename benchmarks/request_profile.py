"""Where a request's time goes inside a gunicorn worker: a middleware-timing pass.

benchmarks/load_quiz.py --profile runs gunicorn with DJANGO_SETTINGS_MODULE=
benchmarks.profile_settings, whose MIDDLEWARE wraps each of the site's middleware in a timer, and
whose first middleware times a few parts of Django besides: opening and closing database
connections, running queries and fetching their rows, loading and saving the session, the cache
(the rate limits' counters) and rendering templates. Each part's time is its own (exclusive):
the time of the parts inside it is taken out, so the parts of a request add up to the whole.

Two clocks per part: wall time, and the thread's CPU time. A part whose wall time is far above
its CPU time waited: for the database's write lock, for another thread to release Python's
GIL, or for the machine's CPU. Every worker writes its totals per page (the URL's name) to
PROFILE_DIR/<pid>.json after every 100 requests and when it exits.
"""

from __future__ import annotations

import atexit
import json
import os
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from pathlib import Path

_local = threading.local()
_lock = threading.Lock()
# page → part → [requests or calls, wall seconds, CPU seconds]
_totals: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(lambda: [0, 0.0, 0.0]))
_requests = 0
_patched = False


@contextmanager
def part(name: str) -> Iterator[None]:
    """Time a part of the request; the parts inside it are taken out of its own time."""
    stack = getattr(_local, "stack", None)
    if stack is None:  # outside a request (a worker's start): not counted
        yield
        return
    frame = [time.perf_counter(), time.thread_time(), 0.0, 0.0]
    stack.append(frame)
    try:
        yield
    finally:
        stack.pop()
        wall = time.perf_counter() - frame[0]
        cpu = time.thread_time() - frame[1]
        parts = _local.parts
        entry = parts.setdefault(name, [0, 0.0, 0.0])
        entry[0] += 1
        entry[1] += wall - frame[2]
        entry[2] += cpu - frame[3]
        if stack:
            stack[-1][2] += wall
            stack[-1][3] += cpu


def _timed(name: str, function: Callable) -> Callable:
    @wraps(function)
    def timed(*args, **kwargs):
        with part(name):
            return function(*args, **kwargs)

    return timed


def _timed_iterator(name: str, function: Callable) -> Callable:
    @wraps(function)
    def timed(*args, **kwargs):
        iterator = iter(function(*args, **kwargs))
        while True:
            with part(name):
                try:
                    item = next(iterator)
                except StopIteration:
                    return
            yield item

    return timed


def _patch() -> None:
    """Wrap the parts of Django that the middleware timers cannot see, once per process."""
    global _patched
    if _patched:
        return
    _patched = True
    from django.conf import settings
    from django.core.cache import caches
    from django.db.backends.base.base import BaseDatabaseWrapper
    from django.db.backends.utils import CursorWrapper
    from django.db.models.sql import compiler
    from django.template.backends.django import Template
    from django.utils.module_loading import import_string

    BaseDatabaseWrapper.connect = _timed("database: connect", BaseDatabaseWrapper.connect)
    BaseDatabaseWrapper.close = _timed("database: close", BaseDatabaseWrapper.close)
    CursorWrapper._execute_with_wrappers = _timed(
        "database: queries", CursorWrapper._execute_with_wrappers
    )
    compiler.cursor_iter = _timed_iterator("database: queries", compiler.cursor_iter)
    session_store = import_string(f"{settings.SESSION_ENGINE}.SessionStore")
    for method in ("load", "save", "create"):
        setattr(session_store, method, _timed("session", getattr(session_store, method)))
    cache = type(caches["default"])
    for method in ("get", "set", "add", "incr", "delete", "get_many", "touch"):
        setattr(cache, method, _timed("cache", getattr(cache, method)))
    Template.render = _timed("template", Template.render)
    atexit.register(write_on_exit)


def _page(request) -> str:
    """The phase the benchmark named in X-Bench-Phase, the method and the URL's name."""
    from django.urls import Resolver404, resolve

    try:
        match = resolve(request.path_info)
    except Resolver404:
        name = "(no page)"
    else:
        name = match.view_name
    return f"{request.headers.get('X-Bench-Phase', '?')}: {request.method} {name}"


def wrap_middleware(paths: list[str]) -> list[str]:
    """Dotted paths of timed stand-ins for ``paths`` (settings.MIDDLEWARE), plus the view's timer.

    Each stand-in builds the middleware it stands for and times its calls and hooks; the last
    entry times URL resolving and the view (with what it renders).
    """
    wrapped = []
    for index, path in enumerate(paths):
        name = f"Timed{index}"
        globals()[name] = _timed_middleware(path, outermost=index == 0)
        wrapped.append(f"{__name__}.{name}")
    return [*wrapped, f"{__name__}.TimedView"]


def _timed_middleware(path: str, outermost: bool) -> type:
    from django.utils.module_loading import import_string

    label = f"middleware: {path.rsplit('.', 1)[-1]}"

    class Timed:
        def __init__(self, get_response: Callable) -> None:
            _patch()
            self.inner = import_string(path)(get_response)
            # Django looks for these hooks on the instance it holds: this stand-in.
            for hook in ("process_view", "process_exception", "process_template_response"):
                if hasattr(self.inner, hook):
                    setattr(self, hook, _timed(label, getattr(self.inner, hook)))

        def __call__(self, request):
            if not outermost:
                with part(label):
                    return self.inner(request)
            _local.stack, _local.parts = [], {}
            with part(label):
                response = self.inner(request)
            parts = _local.parts
            del _local.stack
            _add(_page(request), parts)
            return response

    return Timed


class TimedView:
    def __init__(self, get_response: Callable) -> None:
        self.get_response = get_response

    def __call__(self, request):
        with part("view (URL resolving, the view, what it renders)"):
            return self.get_response(request)


def _add(page: str, parts: dict[str, list[float]]) -> None:
    global _requests
    with _lock:
        totals = _totals[page]
        totals["(requests)"][0] += 1
        for name, (calls, wall, cpu) in parts.items():
            entry = totals[name]
            entry[0] += calls
            entry[1] += wall
            entry[2] += cpu
        _requests += 1
        if _requests % 100 == 0:
            _write()


def _write() -> None:
    folder = Path(os.environ["PROFILE_DIR"])
    data = {
        page: {name: list(entry) for name, entry in parts.items()}
        for page, parts in _totals.items()
    }
    path = folder / f"{os.getpid()}.json"
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(data))
    temporary.replace(path)


def write_on_exit() -> None:
    with _lock:
        if _requests:
            _write()
