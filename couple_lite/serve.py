"""An OpenAI-compatible local server: one loaded model, a different value objective per request.

``POST /v1/chat/completions`` (streamed or not), ``GET /v1/models``, ``GET /health``. A request's
extra body fields ``values`` and ``priority`` (the CLI's syntax, or mappings) give its objective, ``mode``
(vector, prompt or hybrid, as ``steer --mode``) how it reaches the model; its
plan (counterfactual, coefficients) comes back under ``couple_lite``, and in the first streamed
chunk. No objective: unsteered. Requests run one at a time on one worker thread, each under its own
vector (a streamed answer never sees another request's); a client that disconnects stops its
generation after the current token. Needs the ``server`` extra (FastAPI, uvicorn).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .errors import CoupleError
from .objective import make_objective
from .steering import Delivery

__all__ = ["ServeLimits", "ChatRequest", "create_app"]


class ServeLimits(BaseModel):
    """What one request may ask and how many may wait (the server's safe defaults)."""

    max_body_bytes: int = Field(256 * 1024, ge=1024)
    max_tokens: int = Field(1024, ge=1)  # the most a request may ask for
    max_queue: int = Field(8, ge=0)  # requests waiting behind the one being answered


class Message(BaseModel):
    role: Literal["system", "developer", "user", "assistant"]
    content: str | list[dict[str, Any]]

    def text(self) -> str:
        """The content as text (a list of parts keeps its text parts)."""
        if isinstance(self.content, str):
            return self.content
        if any(p.get("type") != "text" for p in self.content):
            raise ValueError("only text content parts are supported")
        return "".join(str(p.get("text", "")) for p in self.content)


class ChatRequest(BaseModel):
    """The fields of an OpenAI chat completion request that the server reads, plus the objective.
    Unknown OpenAI fields are ignored, as a local server's clients expect."""

    model_config = ConfigDict(extra="ignore")

    model: str | None = None
    messages: list[Message] = Field(min_length=1)
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    temperature: float = Field(0.7, ge=0, le=2)
    top_p: float = Field(0.95, gt=0, le=1)
    seed: int | None = Field(None, ge=0, le=2**32 - 2)
    n: int = Field(1, ge=1, le=1)
    stop: str | list[str] | None = None  # refused when given: not supported
    tools: list | None = None  # likewise
    stream: bool = False
    values: str | dict[str, float | str] | None = None
    priority: str | dict[str, float | str] | None = None
    mode: Delivery = "vector"  # how the plan reaches the model, as `steer --mode`


class _Refused(Exception):
    def __init__(self, status: int, message: str, code: str):
        super().__init__(message)
        self.status, self.code = status, code


def _error(status: int, message: str, code: str) -> JSONResponse:
    return JSONResponse({"error": {"message": message, "type": "invalid_request_error", "code": code}}, status)


def _conversation(messages: list[Message]) -> tuple[str, str | None, list[tuple[str, str]]]:
    """(last user turn, system prompt, earlier (user, assistant) turns) of a message list."""
    system = "\n".join(m.text() for m in messages if m.role in ("system", "developer")) or None
    turns = [m for m in messages if m.role in ("user", "assistant")]
    if not turns or turns[-1].role != "user" or any(
            m.role != ("user" if i % 2 == 0 else "assistant") for i, m in enumerate(turns)):
        raise _Refused(400, "messages must alternate user and assistant turns and end with a user turn", "bad_messages")
    pairs = [(turns[i].text(), turns[i + 1].text()) for i in range(0, len(turns) - 1, 2)]
    return turns[-1].text(), system, pairs


def _one_line(e: ValidationError) -> str:
    err = e.errors()[0]
    where = ".".join(str(x) for x in err["loc"]) or "body"
    return f"{where}: {err['msg']}"


class _Server:
    """The state behind the app: the steerer, one worker thread, the admission count."""

    def __init__(self, steerer, model_name: str, api_key: str | None, limits: ServeLimits):
        self.steerer, self.model_name, self.api_key, self.limits = steerer, model_name, api_key, limits
        self.worker = ThreadPoolExecutor(1, thread_name_prefix="couple-lite-serve")
        self._count = threading.Lock()
        self.pending = 0  # admitted and not finished: the one answering plus those waiting

    def check_key(self, request: Request) -> None:
        if self.api_key is None:
            return
        given = request.headers.get("authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {self.api_key}".encode()):
            raise _Refused(401, "missing or wrong API key: send 'Authorization: Bearer KEY'", "invalid_api_key")

    async def read(self, request: Request) -> ChatRequest:
        limit = self.limits.max_body_bytes
        if int(request.headers.get("content-length") or 0) > limit:
            raise _Refused(413, f"request body over {limit} bytes", "request_too_large")
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > limit:
                raise _Refused(413, f"request body over {limit} bytes", "request_too_large")
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise _Refused(400, "the body is not JSON", "bad_json") from None
        try:
            req = ChatRequest.model_validate(data)
        except ValidationError as e:
            raise _Refused(400, _one_line(e), "bad_request") from None
        for name in ("stop", "tools"):
            if getattr(req, name):
                raise _Refused(400, f"'{name}' is not supported by this server; leave it out", "unsupported")
        asked = req.max_completion_tokens or req.max_tokens
        if asked is not None and asked > self.limits.max_tokens:
            raise _Refused(400, f"max_tokens {asked} is over this server's limit of {self.limits.max_tokens}",
                           "max_tokens_too_large")
        return req

    def plan(self, req: ChatRequest):
        if req.values is None:
            if req.priority is not None:
                raise _Refused(400, "priority needs values: give target levels, e.g. \"benevolence=6\"", "bad_objective")
            return None
        try:
            obj = make_objective(req.values, req.priority, self.steerer.system)
            return self.steerer.plan(obj, strict=True)
        except CoupleError as e:
            raise _Refused(400, str(e), "bad_objective") from None

    def admit(self) -> None:
        with self._count:
            if self.pending > self.limits.max_queue:
                raise _Refused(429, f"{self.pending} requests are in line (limit {self.limits.max_queue} waiting); "
                                    "retry later", "queue_full")
            self.pending += 1

    def done(self) -> None:
        with self._count:
            self.pending -= 1


def _plan_json(plan, mode: str = "vector", system_prompt: str | None = None) -> dict | None:
    if plan is None:
        return None
    return {"mode": mode, "system_prompt": system_prompt,
            "objective": {"targets": plan.objective.targets, "weights": plan.objective.weights},
            "factual": plan.factual, "counterfactual": plan.counterfactual, "coefficients": plan.coefficients,
            "predicted": plan.predicted, "reached": plan.reached, "warnings": plan.warnings}


def create_app(steerer, model_name: str, api_key: str | None = None, limits: ServeLimits | None = None) -> FastAPI:
    """The ASGI app serving ``steerer``'s model (run it with uvicorn; ``cli.py serve`` does)."""
    srv = _Server(steerer, model_name, api_key, limits or ServeLimits())
    app = FastAPI(title="couple-lite", version="1")
    app.state.server = srv
    engine = steerer.engine

    @app.exception_handler(_Refused)
    async def refused(_request, e: _Refused):
        return _error(e.status, str(e), e.code)

    @app.exception_handler(Exception)
    async def failed(_request, e: Exception):  # a JSON body even for what should not happen
        body = {"error": {"message": f"internal error: {type(e).__name__}: {e}", "type": "server_error",
                          "code": "internal"}}
        return JSONResponse(body, 500)

    @app.get("/health")
    async def health():
        return {"status": "ok", "model": model_name, "pending": srv.pending}

    @app.get("/v1/models")
    async def models(request: Request):
        srv.check_key(request)
        return {"object": "list", "data": [{"id": model_name, "object": "model", "created": 0, "owned_by": "couple-lite"}]}

    @app.post("/v1/chat/completions")
    async def chat(request: Request):
        srv.check_key(request)
        req = await srv.read(request)
        try:
            prompt, system, history = _conversation(req.messages)
        except ValueError as e:  # a non-text content part
            raise _Refused(400, str(e), "bad_messages") from None
        if not prompt.strip():
            raise _Refused(400, "the last user message is empty; give a question or an instruction", "bad_messages")
        plan = srv.plan(req)
        max_tokens = req.max_completion_tokens or req.max_tokens or min(256, srv.limits.max_tokens)
        gen = dict(system=system, history=history, max_tokens=max_tokens, temperature=req.temperature,
                   top_p=req.top_p, seed=req.seed, delivery=req.mode)
        sent_system = steerer.delivered_system(plan, req.mode, system)  # what the model is given, for usage
        words = steerer.system_prompt(plan) if plan is not None and req.mode != "vector" else None
        srv.admit()
        cancel = threading.Event()
        loop = asyncio.get_running_loop()
        head = {"id": f"chatcmpl-{uuid.uuid4().hex[:24]}", "created": int(time.time()), "model": model_name}

        def usage(text: str) -> tuple[dict, str]:  # on the worker: the engine is never used by two threads
            n_prompt = len(engine.tokenize(engine.chat_prompt(prompt, sent_system, history)))
            n_out = len(engine.tokenize(text, add_bos=False)) if text else 0
            return ({"prompt_tokens": n_prompt, "completion_tokens": n_out, "total_tokens": n_prompt + n_out},
                    "length" if n_out >= max_tokens else "stop")

        if not req.stream:
            def answer():
                try:
                    text = steerer.generate(prompt, plan, cancel=cancel, **gen)
                    return text, *usage(text)
                finally:
                    srv.done()
            try:
                text, use, finish = await loop.run_in_executor(srv.worker, answer)
            except CoupleError as e:
                raise _Refused(400, str(e), "generation_failed") from None
            return {**head, "object": "chat.completion", "usage": use, "couple_lite": _plan_json(plan, req.mode, words),
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish}]}

        pieces: asyncio.Queue = asyncio.Queue()

        def produce():
            out = []
            try:
                if not cancel.is_set():  # a client gone while waiting costs nothing
                    for piece in steerer.stream(prompt, plan, cancel=cancel, **gen):
                        out.append(piece)
                        loop.call_soon_threadsafe(pieces.put_nowait, piece)
                loop.call_soon_threadsafe(pieces.put_nowait, ("end", usage("".join(out))))
            except Exception as e:  # noqa: BLE001 -- the stream must end with an error event, never hang
                loop.call_soon_threadsafe(pieces.put_nowait, ("error", f"generation failed: {e}"))
            finally:
                srv.done()

        def chunk(delta: dict, finish: str | None = None, **extra) -> str:
            body = {**head, "object": "chat.completion.chunk", **extra,
                    "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
            return f"data: {json.dumps(body)}\n\n"

        async def events():
            try:
                yield chunk({"role": "assistant", "content": ""}, couple_lite=_plan_json(plan, req.mode, words))
                while True:
                    item = await pieces.get()
                    if isinstance(item, str):
                        yield chunk({"content": item})
                        continue
                    kind, value = item
                    if kind == "error":
                        yield f"data: {json.dumps({'error': {'message': value, 'type': 'server_error'}})}\n\n"
                    else:
                        use, finish = value
                        yield chunk({}, finish, usage=use)
                    yield "data: [DONE]\n\n"
                    return
            finally:
                cancel.set()  # a disconnect lands here too: generation stops after its current token

        loop.run_in_executor(srv.worker, produce)
        return StreamingResponse(events(), media_type="text/event-stream")

    return app
