"""The coach for any OpenAI-protocol client: ``/v1/models`` and ``/v1/chat/completions``.

Served by the page's own process (``python app.py``), so the ``openai`` SDK, LangChain's
``ChatOpenAI`` or Open WebUI reach the coach at ``http://HOST:PORT/v1`` as the model
``leadership-coach``. The last user message is the question and the earlier turns its history,
read like the page's. The reply's text carries its [n] markers and a short "Sources" list; the
structured citations, the diagnosis and the intent ride in extra top-level fields that other
clients ignore. Errors come in OpenAI's error shape.

Keys: ``ASSISTANT_API_KEYS`` (comma-separated, or the path of a file with one a line), sent as
``Authorization: Bearer KEY``. Without keys only clients on this machine are served.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

from .coach import Coach
from .types import Reply

MODEL_ID = "leadership-coach"
MAX_BODY_BYTES = 1 << 20  # a request body beyond this is refused with 413
STREAM_WORDS = 6  # words per streamed chunk


def read_keys(value: str) -> list[str]:
    """The keys in ASSISTANT_API_KEYS: comma-separated, or a file with one a line (``#`` comments).

    Example:
        >>> read_keys("k1, k2")
        ['k1', 'k2']
    """
    path = Path(value.strip()).expanduser()
    if value.strip() and path.is_file():
        lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
        return [line for line in lines if line and not line.startswith("#")]
    return [k.strip() for k in value.split(",") if k.strip()]


def error(status: int, message: str, kind: str = "invalid_request_error", code: str | None = None) -> Any:
    from starlette.responses import JSONResponse

    body = {"error": {"message": message, "type": kind, "param": None, "code": code}}
    return JSONResponse(body, status_code=status)


def refused(request: Any, keys: list[str]) -> Any:
    """The 401 response for a request without a valid key (or, with no keys, from another
    machine); None when it may go on."""
    from .ui.serve import is_loopback

    if not keys:
        host = request.client.host if request.client else ""
        if is_loopback(host):
            return None
        return error(401, "This coach serves other machines only with a key: set ASSISTANT_API_KEYS.")
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and any(hmac.compare_digest(given.strip(), k) for k in keys):
        return None
    return error(401, "Incorrect API key provided.", code="invalid_api_key")


def messages_to_turns(messages: object) -> tuple[str, list[dict]]:
    """(question, history) from OpenAI ``messages``; raises ValueError for a malformed list.

    Content may be a string or a list of parts (only the text parts count); system and tool
    messages are skipped: the coach's behaviour is its own.
    """
    if not isinstance(messages, list) or not messages:
        raise ValueError("'messages' must be a non-empty list")
    turns = []
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            raise ValueError(f"messages[{i}] must be an object with a 'role'")
        content = message.get("content")
        if isinstance(content, list):
            content = " ".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
        if content is None:
            content = ""
        if not isinstance(content, str):
            raise ValueError(f"messages[{i}].content must be a string or a list of parts")
        if message["role"] in ("user", "assistant"):
            turns.append({"role": message["role"], "content": content})
    if not turns or turns[-1]["role"] != "user":
        raise ValueError("the last message must come from the user")
    return turns[-1]["content"], turns[:-1]


def with_sources(reply: Reply) -> str:
    """The reply's text with its sources listed under it, as a chat client shows it."""
    if not reply.citations:
        return reply.text
    lines = [f"[{c.index}] {c.title}, {c.section} ({c.doc_id})" for c in reply.citations]
    return reply.text + "\n\nSources:\n" + "\n".join(lines)


class Api:
    """The /v1 routes over one Coach, with its keys and its own bounds.

    Args:
        coach: the Coach that answers.
        keys: accepted bearer keys; none means only loopback clients are served.
        workers: replies worked on at once; the rest wait.
        queue: requests that may wait; past them the answer is 429.
    """

    def __init__(self, coach: Coach, keys: list[str] | None = None, workers: int = 4, queue: int = 64) -> None:
        from .embeddings import model_path

        self.coach, self.keys = coach, list(keys or [])
        self.workers, self.queue = workers, queue
        self._running = asyncio.Semaphore(workers)
        self._admitted = 0
        self._tokenizer_path = Path(model_path()) / "tokenizer.json"
        self._tokenizer: Any = None

    def routes(self) -> list:
        from starlette.routing import Route

        return [
            Route("/v1/models", self.models, methods=["GET"]),
            Route("/v1/models/{model:path}", self.model, methods=["GET"]),
            Route("/v1/chat/completions", self.completions, methods=["POST"]),
        ]

    # ---- routes --------------------------------------------------------------------------
    async def models(self, request: Any) -> Any:
        from starlette.responses import JSONResponse

        return refused(request, self.keys) or JSONResponse({"object": "list", "data": [self._model_card()]})

    async def model(self, request: Any) -> Any:
        from starlette.responses import JSONResponse

        denied = refused(request, self.keys)
        if denied:
            return denied
        name = request.path_params["model"]
        return JSONResponse(self._model_card()) if name == MODEL_ID else _no_model(name)

    async def completions(self, request: Any) -> Any:
        from starlette.concurrency import run_in_threadpool

        denied = refused(request, self.keys)
        if denied:
            return denied
        length = request.headers.get("content-length", "")
        if length.isdigit() and int(length) > MAX_BODY_BYTES:
            return error(413, f"The request is over {MAX_BODY_BYTES // 2**20} MB.", code="request_too_large")
        raw = await request.body()
        if len(raw) > MAX_BODY_BYTES:
            return error(413, f"The request is over {MAX_BODY_BYTES // 2**20} MB.", code="request_too_large")
        try:
            body = json.loads(raw)
            if not isinstance(body, dict):
                raise ValueError("the body must be a JSON object")
            question, history = messages_to_turns(body.get("messages"))
        except (ValueError, UnicodeDecodeError) as exc:
            return error(400, f"Malformed request: {exc}")
        if body.get("model") != MODEL_ID:
            return _no_model(str(body.get("model")))
        if self._admitted >= self.workers + self.queue:
            return error(429, "Too many requests are waiting; try again shortly.", "rate_limit_exceeded")
        self._admitted += 1
        try:
            async with self._running:
                reply = await run_in_threadpool(self.coach.ask, question, history)
        except ValueError as exc:  # an empty message
            return error(400, str(exc))
        finally:
            self._admitted -= 1
        content = with_sources(reply)
        usage = self._usage([m["content"] for m in history] + [question], content)
        if body.get("stream"):
            from starlette.responses import StreamingResponse

            options = body.get("stream_options") or {}
            chunks = self._chunks(reply, content, usage if options.get("include_usage") else None)
            return StreamingResponse(chunks, media_type="text/event-stream")
        from starlette.responses import JSONResponse

        return JSONResponse(
            {
                "id": _id(),
                "object": "chat.completion",
                "created": int(time.time()),
                "model": MODEL_ID,
                "choices": [
                    {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}
                ],
                "usage": usage,
                **_extra(reply),
            }
        )

    async def _chunks(self, reply: Reply, content: str, usage: dict | None) -> AsyncIterator[str]:
        """The reply as OpenAI chunks: the role, the text a few words at a time, the end, [DONE]."""
        ident, created = _id(), int(time.time())

        def event(**fields: Any) -> str:
            body = {"id": ident, "object": "chat.completion.chunk", "created": created, "model": MODEL_ID, **fields}
            return f"data: {json.dumps(body)}\n\n"

        def chunk(delta: dict, finish: str | None = None, **extra: Any) -> str:
            return event(choices=[{"index": 0, "delta": delta, "finish_reason": finish}], **extra)

        yield chunk({"role": "assistant", "content": ""})
        words = content.split(" ")
        for start in range(0, len(words), STREAM_WORDS):
            piece = " ".join(words[start : start + STREAM_WORDS])
            yield chunk({"content": piece if start == 0 else " " + piece})
        yield chunk({}, "stop", **_extra(reply))
        if usage is not None:
            yield event(choices=[], usage=usage)
        yield "data: [DONE]\n\n"

    # ---- pieces --------------------------------------------------------------------------
    def _model_card(self) -> dict:
        return {"id": MODEL_ID, "object": "model", "created": 0, "owned_by": "leadership-coach"}

    def _usage(self, prompt: list[str], completion: str) -> dict:
        """Token counts by the embedding model's own tokenizer (no language model is involved)."""
        if self._tokenizer is None:
            from tokenizers import Tokenizer

            self._tokenizer = Tokenizer.from_file(str(self._tokenizer_path))
            self._tokenizer.no_truncation()
            self._tokenizer.no_padding()
        asked = sum(len(e.ids) - 2 for e in self._tokenizer.encode_batch(prompt)) if prompt else 0
        said = len(self._tokenizer.encode(completion).ids) - 2
        return {"prompt_tokens": asked, "completion_tokens": said, "total_tokens": asked + said}


def _id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex[:24]}"


def _no_model(name: str) -> Any:
    message = f"The model `{name}` does not exist; this server has `{MODEL_ID}`."
    return error(404, message, code="model_not_found")


def reply_fields(reply: Reply) -> dict:
    """A reply as plain data: its text with sources, and the fields of ``_extra``."""
    return {"text": with_sources(reply), **_extra(reply)}


def _extra(reply: Reply) -> dict:
    """The fields beside OpenAI's own: citations, diagnosis and how the message was read."""
    citations = [
        {"index": c.index, "title": c.title, "section": c.section, "quote": c.quote or c.text, "doc_id": c.doc_id}
        for c in reply.citations
    ]
    diagnosis = asdict(reply.diagnosis) if reply.diagnosis else None
    return {"citations": citations, "diagnosis": diagnosis, "intent": reply.intent, "safety": reply.safety}
