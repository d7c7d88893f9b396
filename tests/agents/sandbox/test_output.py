"""Bounded output: head and tail kept, the cut announced."""

from aarlab.agents.sandbox._output import BoundedOutput


def test_output_under_the_limit_is_kept_whole() -> None:
    out = BoundedOutput(100)
    for chunk in (b"hello ", b"world"):
        out.feed(chunk)
    assert (out.text(), out.truncated) == ("hello world", False)


def test_output_over_the_limit_keeps_head_and_tail_and_says_how_much_was_cut() -> None:
    out = BoundedOutput(10)
    for i in range(100):
        out.feed(str(i % 10).encode())
    text = out.text()
    assert out.truncated
    assert text.startswith("01234\n[... 90 bytes truncated ...]\n")
    assert text.endswith("56789")


def test_a_single_huge_chunk_is_cut_the_same_way() -> None:
    out = BoundedOutput(4)
    out.feed(b"ab" + b"x" * 1000 + b"yz")
    assert out.text() == "ab\n[... 1000 bytes truncated ...]\nyz"
