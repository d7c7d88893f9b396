"""Progress of a suite build, one bar (or line) per stage with an ETA, on stderr.

A builder reports ``progress(stage, done, total)``; :func:`build_progress` turns that into rich bars on a terminal,
and into throttled plain lines otherwise (CI logs, ``nohup``, pipes), so a long build never sits on one line.
A stage whose ``done`` goes backwards restarts (the next seed or attempt); a ``total`` may grow (an extra chunk).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from rich.console import Console

Progress = Callable[[str, float, float], None]
Log = Callable[[str], None]


def format_seconds(seconds: float) -> str:
    """``1:05`` for 65 s, ``1:02:03`` past an hour."""
    s = max(0, round(seconds))
    h, rest = divmod(s, 3600)
    return f"{h}:{rest // 60:02d}:{rest % 60:02d}" if h else f"{rest // 60}:{rest % 60:02d}"


@dataclass
class _Stage:
    started: float
    start_done: float
    last_line: float
    done: float = 0.0
    total: float = 0.0
    finished: bool = False

    def eta(self, now: float) -> float | None:
        """Seconds left at the rate seen since the stage (re)started; None before there is a rate."""
        rate = (self.done - self.start_done) / max(now - self.started, 1e-9)
        return (self.total - self.done) / rate if rate > 0 and self.done > self.start_done else None


class StageLines:
    """Line-based progress for a log: a line per stage at its start, every ``every_s`` seconds, and at its end."""

    def __init__(self, write: Log, every_s: float = 30.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.write, self.every_s, self.clock = write, every_s, clock
        self.stages: dict[str, _Stage] = {}

    def __call__(self, stage: str, done: float, total: float) -> None:
        now = self.clock()
        st = self.stages.get(stage)
        if st is None or done < st.done:  # new stage, or the stage runs again
            st = self.stages[stage] = _Stage(started=now, start_done=done, last_line=now)
            st.done, st.total = done, total
            self.write(self.line(stage, st, now))
            return
        st.done, st.total = done, total
        end = total > 0 and done >= total
        due = not end and now - st.last_line >= self.every_s
        if (end and not st.finished) or due:
            st.last_line = now
            self.write(self.line(stage, st, now))
        st.finished = end  # a total that grows (an extra chunk) reopens the stage

    @staticmethod
    def line(stage: str, st: _Stage, now: float) -> str:
        """``pretrain strong: 1200/4000 (30%), 2:10 elapsed, ETA 5:03``."""
        pct = f" ({100 * st.done / st.total:.0f}%)" if st.total else ""
        text = f"{stage}: {st.done:g}/{st.total:g}{pct}, {format_seconds(now - st.started)} elapsed"
        if st.total and st.done >= st.total:
            return text + ", done"
        eta = st.eta(now)
        return text + (f", ETA {format_seconds(eta)}" if eta is not None else "")


class StageBars:
    """Maps (stage, done, total) reports onto rich progress bars, one per stage."""

    def __init__(self, progress: Any) -> None:
        self.progress = progress
        self.tasks: dict[str, Any] = {}
        self.done: dict[str, float] = {}

    def __call__(self, stage: str, done: float, total: float) -> None:
        if stage not in self.tasks:
            self.tasks[stage] = self.progress.add_task(stage, total=total)
        elif done < self.done[stage]:  # the stage runs again (next seed or attempt): restart its bar
            self.progress.reset(self.tasks[stage], total=total)
        self.done[stage] = done
        self.progress.update(self.tasks[stage], completed=done, total=total)


@contextmanager
def build_progress(console: Console, plain: bool = False) -> Iterator[tuple[Progress, Log]]:
    """``(progress, log)`` callbacks for a build: rich bars with an ETA on a terminal, plain lines otherwise
    (or when ``plain``, e.g. a command's ``--quiet``)."""
    if plain or not console.is_terminal:
        def write(message: str) -> None:
            console.print(message, highlight=False, markup=False, soft_wrap=True)

        yield StageLines(write), write
        return
    from rich.markup import escape
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn
    from rich.progress import Progress as RichProgress

    columns = (TextColumn("{task.description:<18}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TextColumn("ETA"), TimeRemainingColumn())
    with RichProgress(*columns, console=console, transient=False) as bars:
        yield StageBars(bars), lambda m: bars.console.print(f"[dim]{escape(m)}[/]", highlight=False)
