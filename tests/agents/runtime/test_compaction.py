"""Compaction: past a context threshold the model summarizes the older turns; the summary, the notebook and the
recent turns replace them, and a resumed process rebuilds the same conversation."""

from __future__ import annotations

from typing import Any

from aarlab.agents.runtime import LoopSettings, replay
from aarlab.agents.runtime._compaction import SUMMARIZER
from tests.agents.fake_llm import FakeLLM, Reply, text, tool_use
from tests.agents.runtime.conftest import FakeToolBox, RunFiles, make_run

SUMMARY = "You ran ls twice and vanilla once; next: try the probe lane."


def summarizer(body: dict[str, Any]) -> Reply:
    assert body["system"][0]["text"] == SUMMARIZER and not body.get("tools")
    return Reply([text(SUMMARY)], 700, 50)


def test_a_long_conversation_is_compacted_with_the_notebook(files: RunFiles) -> None:
    script = [Reply([tool_use("shell", {"command": "ls"}, call_id="c1")], 100, 10),
              Reply([tool_use("shell", {"command": "ls -l"}, call_id="c2")], 300, 10),
              Reply([tool_use("w2s_run", {"dataset": "math", "method": "vanilla"}, call_id="c3")], 600, 10),
              summarizer]
    toolbox = FakeToolBox(notebook_text="- vanilla is the baseline")
    settings = LoopSettings(context_tokens=1000, compact_fraction=0.5, keep_turns=1)
    with FakeLLM(script, exhausted=Reply([text("done")], 200, 10)) as llm:
        make_run(files, llm.base_url, toolbox, settings=settings).run()
        after = llm.requests[4].body["messages"]
        assert llm.errors == []
    compaction = files.events("compaction")
    assert len(compaction) == 1
    assert compaction[0]["summary"] == SUMMARY
    assert compaction[0]["dropped_messages"] == 5  # kickoff + two turns with their tool results
    assert compaction[0]["notebook"] == "- vanilla is the baseline"
    # The next call sees: summary (+ notebook), then the last turn verbatim with its result.
    assert after[0]["role"] == "user"
    first = str(after[0]["content"])
    assert SUMMARY in first and "vanilla is the baseline" in first
    assert after[1]["role"] == "assistant" and after[1]["content"][-1]["id"] == "c3"
    assert "tool_use_id': 'c3'" in str(after[2]["content"])
    assert "c1" not in str(after)
    # The summary call was paid for like any other.
    purposes = [e["purpose"] for e in files.events("usage")]
    assert purposes.count("compaction") == 1
    assert files.usage()["llm_calls"] == len(purposes)


def test_replay_after_compaction_gives_the_conversation_the_model_saw(files: RunFiles) -> None:
    script = [Reply([tool_use("shell", {"command": "ls"})], 100, 10),
              Reply([tool_use("shell", {"command": "ls"})], 900, 10), summarizer,
              Reply([tool_use("shell", {"command": "pwd"})], 100, 10)]
    settings = LoopSettings(context_tokens=1000, compact_fraction=0.5, keep_turns=1)
    with FakeLLM(script, exhausted=Reply([text("done")], 100, 10)) as llm:
        run = make_run(files, llm.base_url, FakeToolBox(), settings=settings)
        run.run()
    rebuilt, info = replay(files.events(), "ignored: the transcript has the system prompt")
    assert [m.role for m in rebuilt.messages] == [m.role for m in run.conversation.messages]
    assert [m.text for m in rebuilt.messages] == [m.text for m in run.conversation.messages]
    assert info.dangling == []


def test_no_compaction_when_the_recent_turns_are_all_there_is(files: RunFiles) -> None:
    log: list[str] = []
    settings = LoopSettings(context_tokens=1000, compact_fraction=0.1, keep_turns=1, max_idle_turns=1)
    with FakeLLM([Reply([tool_use("shell", {"command": "ls"})], 900, 10)],
                 exhausted=Reply([text("done")], 900, 10)) as llm:
        make_run(files, llm.base_url, FakeToolBox(), settings=settings, log=log).run()
    assert files.events("compaction") == []
    assert any("compaction skipped" in line for line in log)
