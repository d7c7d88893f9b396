"""A fake LLM provider: a real HTTP server on loopback speaking the Anthropic Messages API and the OpenAI Chat
Completions API, driven by a script, recording every request.

A script is a list of turns. Each turn is either a :class:`Reply`, a list of content blocks (shorthand for
``Reply(blocks)``) or a callable that receives the request body (a dict) and returns one of those. Blocks use the
Anthropic shapes, whichever API is asked::

    {"type": "text", "text": "..."}
    {"type": "tool_use", "id": "toolu_1", "name": "shell", "input": {"command": "ls"}}

Helpers :func:`text` and :func:`tool_use` build them. When the script runs out, the server answers with
``exhausted`` (default: a text-only turn saying so). A :class:`Reply` with ``status`` >= 400 answers that HTTP error
(for retry tests); it still consumes its place in the script. A callable turn that raises is answered with a 400
and its exception kept in ``errors``.

Both streaming (SSE) and plain JSON responses are served, so any SDK works against it::

    with FakeLLM([[text("hi")]]) as llm:
        client = anthropic.Anthropic(base_url=llm.base_url, api_key="test")
        ...
        assert llm.requests[0].body["messages"][0]["role"] == "user"
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

Block = dict[str, Any]


def text(body: str) -> Block:
    """A text content block."""
    return {"type": "text", "text": body}


_ids = itertools.count(1)


def tool_use(name: str, arguments: dict[str, Any] | None = None, *, call_id: str | None = None) -> Block:
    """A tool call content block (a fresh id unless ``call_id`` is given)."""
    return {"type": "tool_use", "id": call_id or f"toolu_{next(_ids):04d}", "name": name, "input": arguments or {}}


@dataclass
class Reply:
    """One scripted answer. Token counts default to an estimate from the request and reply sizes."""

    blocks: list[Block] = field(default_factory=list)
    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_read_tokens: int = 0
    status: int = 200
    error: str = "scripted error"
    delay_s: float = 0.0


#: One place in a script: a reply, its blocks, or a function of the request body giving either.
Turn = Reply | list[Block] | Callable[[dict[str, Any]], Reply | list[Block]]


@dataclass
class Request:
    """One request the server received."""

    api: str  # "anthropic" | "openai"
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


def estimate_tokens(payload: Any) -> int:
    """Roughly four characters per token, like real tokenizers on English text."""
    return max(1, len(json.dumps(payload)) // 4)


class FakeLLM:
    """The server; use as a context manager, read :attr:`base_url` and :attr:`requests`."""

    def __init__(self, script: list[Turn], *, exhausted: Reply | None = None, model: str = "fake-model") -> None:
        self.script = list(script)
        self.exhausted = exhausted or Reply([text("(the fake LLM's script is exhausted)")])
        self.model = model
        self.requests: list[Request] = []
        self.errors: list[Exception] = []  # raised by callable turns
        self._lock = threading.Lock()
        self._position = 0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------------------------------
    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        """Listen on a free loopback port."""
        owner = self

        class Handler(_Handler):
            fake = owner

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop listening."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` (the Anthropic SDK appends ``/v1/messages``)."""
        assert self._server is not None, "start the server first"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def openai_base_url(self) -> str:
        """``http://127.0.0.1:PORT/v1`` (the OpenAI SDK appends ``/chat/completions``)."""
        return f"{self.base_url}/v1"

    @property
    def remaining(self) -> int:
        """Scripted turns not served yet."""
        return len(self.script) - self._position

    # -- script ---------------------------------------------------------------------------------------------
    def next_reply(self, request: Request) -> Reply:
        """Record ``request`` and take the next turn of the script."""
        with self._lock:
            self.requests.append(request)
            if self._position < len(self.script):
                turn = self.script[self._position]
                self._position += 1
            else:
                turn = self.exhausted
        if callable(turn) and not isinstance(turn, Reply):
            try:
                turn = turn(request.body)
            except Exception as err:  # a failed check in a scripted callable: answer 400 and keep it for the test
                self.errors.append(err)
                return Reply(status=400, error=f"the test's script failed: {err!r}")
        reply = turn if isinstance(turn, Reply) else Reply(list(turn))
        if reply.input_tokens is None:
            reply = Reply(reply.blocks, estimate_tokens(request.body), reply.output_tokens, reply.cache_read_tokens,
                          reply.status, reply.error, reply.delay_s)
        if reply.output_tokens is None:
            reply.output_tokens = estimate_tokens(reply.blocks)
        return reply


# -- wire formats ---------------------------------------------------------------------------------------------
def anthropic_message(reply: Reply, model: str) -> dict[str, Any]:
    """The Messages API response for ``reply``."""
    stop = "tool_use" if any(b["type"] == "tool_use" for b in reply.blocks) else "end_turn"
    return {"id": f"msg_{next(_ids):06d}", "type": "message", "role": "assistant", "model": model,
            "content": reply.blocks, "stop_reason": stop, "stop_sequence": None,
            "usage": {"input_tokens": reply.input_tokens, "output_tokens": reply.output_tokens,
                      "cache_read_input_tokens": reply.cache_read_tokens, "cache_creation_input_tokens": 0}}


def anthropic_events(reply: Reply, model: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """The same message as a Messages API event stream."""
    message = anthropic_message(reply, model)
    start = {**message, "content": [], "stop_reason": None,
             "usage": {**message["usage"], "output_tokens": 1}}
    yield "message_start", {"type": "message_start", "message": start}
    for index, block in enumerate(reply.blocks):
        if block["type"] == "text":
            yield "content_block_start", {"type": "content_block_start", "index": index,
                                          "content_block": {"type": "text", "text": ""}}
            delta = {"type": "text_delta", "text": block["text"]}
        else:
            yield "content_block_start", {"type": "content_block_start", "index": index,
                                          "content_block": {**block, "input": {}}}
            delta = {"type": "input_json_delta", "partial_json": json.dumps(block["input"])}
        yield "content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta}
        yield "content_block_stop", {"type": "content_block_stop", "index": index}
    yield "message_delta", {"type": "message_delta",
                            "delta": {"stop_reason": message["stop_reason"], "stop_sequence": None},
                            "usage": {"output_tokens": reply.output_tokens}}
    yield "message_stop", {"type": "message_stop"}


def openai_completion(reply: Reply, model: str) -> dict[str, Any]:
    """The Chat Completions response for ``reply``."""
    content = "".join(b["text"] for b in reply.blocks if b["type"] == "text") or None
    calls = [{"id": b["id"], "type": "function",
              "function": {"name": b["name"], "arguments": json.dumps(b["input"])}}
             for b in reply.blocks if b["type"] == "tool_use"]
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if calls:
        message["tool_calls"] = calls
    return {"id": f"chatcmpl-{next(_ids):06d}", "object": "chat.completion", "created": int(time.time()),
            "model": model, "choices": [{"index": 0, "message": message,
                                         "finish_reason": "tool_calls" if calls else "stop"}],
            "usage": {"prompt_tokens": reply.input_tokens, "completion_tokens": reply.output_tokens,
                      "total_tokens": (reply.input_tokens or 0) + (reply.output_tokens or 0),
                      "prompt_tokens_details": {"cached_tokens": reply.cache_read_tokens}}}


def openai_chunks(reply: Reply, model: str) -> Iterator[dict[str, Any]]:
    """The same completion as a Chat Completions stream (usage in a last chunk without choices)."""
    done = openai_completion(reply, model)
    message = done["choices"][0]["message"]
    base = {"id": done["id"], "object": "chat.completion.chunk", "created": done["created"], "model": model}
    delta: dict[str, Any] = {"role": "assistant", "content": message["content"]}
    if "tool_calls" in message:
        delta["tool_calls"] = [{**call, "index": i} for i, call in enumerate(message["tool_calls"])]
    yield {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}
    yield {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": done["choices"][0]["finish_reason"]}]}
    yield {**base, "choices": [], "usage": done["usage"]}


class _Handler(BaseHTTPRequestHandler):
    fake: FakeLLM
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:  # keep test output quiet
        pass

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        length = int(self.headers.get("Content-Length", "0"))
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            self._json(400, {"error": {"type": "invalid_request_error", "message": "body is not JSON"}})
            return
        path = self.path.split("?")[0]
        if path.endswith("/messages"):
            api = "anthropic"
        elif path.endswith("/chat/completions"):
            api = "openai"
        else:
            self._json(404, {"error": {"type": "not_found_error", "message": f"no route {path}"}})
            return
        reply = self.fake.next_reply(Request(api, path, {k.lower(): v for k, v in self.headers.items()}, body))
        if reply.delay_s:
            time.sleep(reply.delay_s)
        if reply.status >= 400:
            kind = "rate_limit_error" if reply.status == 429 else "api_error"
            self._json(reply.status, {"type": "error", "error": {"type": kind, "message": reply.error}})
            return
        model = str(body.get("model", self.fake.model))
        if api == "anthropic":
            if body.get("stream"):
                self._sse((f"event: {name}\ndata: {json.dumps(data)}\n\n" for name, data in
                           anthropic_events(reply, model)))
            else:
                self._json(200, anthropic_message(reply, model))
        elif body.get("stream"):
            lines = [f"data: {json.dumps(chunk)}\n\n" for chunk in openai_chunks(reply, model)]
            self._sse(iter([*lines, "data: [DONE]\n\n"]))
        else:
            self._json(200, openai_completion(reply, model))

    def _json(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if status == 429 or status >= 500:  # retry at once: keeps retry tests fast
            self.send_header("Retry-After", "0")
        self.end_headers()
        self.wfile.write(data)

    def _sse(self, events: Iterator[str]) -> None:
        data = "".join(events).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
