"""Progress of a long run, for whoever watches it in this process (the CLI's progress bar).

A flow reports each finished step with :func:`report`; a watcher registered with :func:`watching` sees it.
The Prefect UI gets its own progress artifact from the flow; this is the local, in-process half, kept free
of Prefect so the CLI can draw a bar without polling the server.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Progress:
    done: int
    total: int
    label: str


Watcher = Callable[[Progress], None]
_watchers: list[Watcher] = []


@contextlib.contextmanager
def watching(watcher: Watcher) -> Iterator[None]:
    """Call ``watcher`` with every :class:`Progress` reported in this process while the block runs."""
    _watchers.append(watcher)
    try:
        yield
    finally:
        _watchers.remove(watcher)


def report(done: int, total: int, label: str) -> None:
    """Tell the watchers that ``done`` of ``total`` steps are finished; a failing watcher never stops the run."""
    event = Progress(done=done, total=total, label=label)
    for watcher in list(_watchers):
        try:
            watcher(event)
        except Exception:  # a broken progress bar must not fail a backfill
            log.exception("progress watcher failed")
