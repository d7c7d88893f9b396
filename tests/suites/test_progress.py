"""Build progress: plain lines with an ETA when stderr is not a terminal (a fake clock; nothing timed)."""

from rich.console import Console

from aarlab.suites._progress import StageLines, build_progress, format_seconds


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _lines(every_s: float = 30.0) -> tuple[StageLines, list[str], Clock]:
    written: list[str] = []
    clock = Clock()
    return StageLines(written.append, every_s=every_s, clock=clock), written, clock


def test_a_stage_prints_its_start_throttled_updates_with_an_eta_and_its_end() -> None:
    lines, written, clock = _lines()
    lines("pretrain strong", 0, 4000)
    clock.now = 10.0
    lines("pretrain strong", 1000, 4000)  # within 30 s of the last line: silent
    clock.now = 60.0
    lines("pretrain strong", 2000, 4000)
    clock.now = 120.0
    lines("pretrain strong", 4000, 4000)
    lines("pretrain strong", 4000, 4000)  # the end is said once
    assert written == ["pretrain strong: 0/4000 (0%), 0:00 elapsed",
                       "pretrain strong: 2000/4000 (50%), 1:00 elapsed, ETA 1:00",
                       "pretrain strong: 4000/4000 (100%), 2:00 elapsed, done"]


def test_a_stage_that_goes_backwards_restarts_and_a_growing_total_reopens_it() -> None:
    lines, written, clock = _lines(every_s=0)
    lines("baselines", 3, 3)
    lines("baselines", 0, 3)
    assert written[-1] == "baselines: 0/3 (0%), 0:00 elapsed"
    lines("pretrain strong", 100, 100)
    clock.now = 5.0
    lines("pretrain strong", 120, 150)  # an extra chunk
    clock.now = 10.0
    lines("pretrain strong", 150, 150)
    assert written[-1].endswith("done") and written[-2].startswith("pretrain strong: 120/150")


def test_stages_are_independent() -> None:
    lines, written, _ = _lines()
    lines("pretrain strong", 0, 10)
    lines("pretrain weak", 0, 10)
    assert [w.split(":")[0] for w in written] == ["pretrain strong", "pretrain weak"]


def test_seconds_read_as_minutes_and_hours() -> None:
    assert (format_seconds(65), format_seconds(3723), format_seconds(-1)) == ("1:05", "1:02:03", "0:00")


def test_a_build_without_a_terminal_writes_plain_lines() -> None:
    console = Console(record=True, force_terminal=False, width=200)
    with build_progress(console) as (progress, log):
        progress("datasets", 0, 4)
        log("a note")
    assert console.export_text().splitlines() == ["datasets: 0/4 (0%), 0:00 elapsed", "a note"]


def test_a_build_on_a_terminal_draws_a_bar_per_stage_with_an_eta() -> None:
    import io

    console = Console(file=io.StringIO(), force_terminal=True, width=120)
    with build_progress(console) as (progress, _log):
        progress("pretrain strong", 10, 100)
        progress("pretrain weak", 5, 50)
    text = console.file.getvalue()  # type: ignore[attr-defined]
    assert "pretrain strong" in text and "pretrain weak" in text and "ETA" in text


def test_plain_asks_for_lines_even_on_a_terminal() -> None:
    import io

    console = Console(file=io.StringIO(), force_terminal=True, width=120)
    with build_progress(console, plain=True) as (progress, _log):
        progress("datasets", 0, 4)
    assert console.file.getvalue() == "datasets: 0/4 (0%), 0:00 elapsed\n"  # type: ignore[attr-defined]


def test_a_note_on_a_terminal_is_printed_as_written_even_with_brackets() -> None:
    import io

    console = Console(file=io.StringIO(), force_terminal=True, width=200)
    with build_progress(console) as (_progress, log):
        log("set another init_seed in the suite's [build] table [/]")
    assert "the suite's [build] table [/]" in console.file.getvalue()  # type: ignore[attr-defined]
