"""One admitted chat completion: the conversation, its plan and generation options, answered whole
or streamed as server-sent events. Generation runs on the server's one worker thread; a client
that leaves sets ``cancel``, and generation stops after its current token."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from sse_starlette.sse import EventSourceResponse

from ..errors import CoupleError
from ._protocol import ChatRequest, Refused, conversation, plan_json

__all__ = ["Completion"]


@dataclass
class Completion:
    """A request turned into what the steerer needs (see the module docstring)."""

    server: Any  # app._Server: the steerer, the worker thread, the admission count
    request: ChatRequest
    prompt: str
    system: str | None
    history: list[tuple[str, str]]
    plan: Any  # SteeringPlan | None
    max_tokens: int
    head: dict[str, Any] = field(default_factory=dict)  # id, created, model: in every response
    cancel: threading.Event = field(default_factory=threading.Event)

    @classmethod
    def of(cls, server: Any, req: ChatRequest) -> Completion:
        """The request checked (messages, objective): a Refused error says what is wrong with it."""
        try:
            prompt, system, history = conversation(req.messages)
        except ValueError as e:  # a non-text content part
            raise Refused(400, str(e), "bad_messages") from None
        if not prompt.strip():
            raise Refused(400, "the last user message is empty; give a question or an instruction", "bad_messages")
        max_tokens = req.max_completion_tokens or req.max_tokens or min(256, server.limits.max_tokens)
        head = {"id": f"chatcmpl-{uuid.uuid4().hex[:24]}", "created": int(time.time()), "model": server.model_name}
        return cls(server, req, prompt, system, history, server.plan(req), max_tokens, head)

    @property
    def generation(self) -> dict[str, Any]:
        r = self.request
        return dict(
            system=self.system,
            history=self.history,
            max_tokens=self.max_tokens,
            temperature=r.temperature,
            top_p=r.top_p,
            seed=r.seed,
            delivery=r.mode,
        )

    @property
    def plan_object(self) -> dict | None:
        steerer, mode = self.server.steerer, self.request.mode
        words = steerer.system_prompt(self.plan) if self.plan is not None and mode != "vector" else None
        return plan_json(self.plan, mode, words)

    def usage(self, text: str) -> tuple[dict[str, int], str]:
        """Token counts and the finish reason (on the worker: the engine is never used by two threads)."""
        engine, steerer = self.server.steerer.engine, self.server.steerer
        sent_system = steerer.delivered_system(self.plan, self.request.mode, self.system)  # what the model read
        n_prompt = len(engine.tokenize(engine.chat_prompt(self.prompt, sent_system, self.history)))
        n_out = len(engine.tokenize(text, add_bos=False)) if text else 0
        counts = {"prompt_tokens": n_prompt, "completion_tokens": n_out, "total_tokens": n_prompt + n_out}
        return counts, "length" if n_out >= self.max_tokens else "stop"

    async def answer(self) -> dict[str, Any]:
        """The whole answer as one chat.completion object."""

        def work() -> tuple[str, dict[str, int], str]:
            try:
                text = self.server.steerer.generate(self.prompt, self.plan, cancel=self.cancel, **self.generation)
                return text, *self.usage(text)
            finally:
                self.server.done()

        try:
            text, use, finish = await asyncio.get_running_loop().run_in_executor(self.server.worker, work)
        except CoupleError as e:
            raise Refused(400, str(e), "generation_failed") from None
        return {
            **self.head,
            "object": "chat.completion",
            "usage": use,
            "couple_lite": self.plan_object,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish}],
        }

    def stream(self) -> EventSourceResponse:
        """The answer as chat.completion.chunk events: the plan first, then each piece, then usage
        and ``[DONE]`` (or an error event and ``[DONE]``, never a stream left waiting)."""
        loop = asyncio.get_running_loop()
        pieces: asyncio.Queue[Any] = asyncio.Queue()

        def produce() -> None:
            out: list[str] = []
            try:
                if not self.cancel.is_set():  # a client gone while waiting costs nothing
                    for piece in self.server.steerer.stream(
                        self.prompt, self.plan, cancel=self.cancel, **self.generation
                    ):
                        out.append(piece)
                        loop.call_soon_threadsafe(pieces.put_nowait, piece)
                loop.call_soon_threadsafe(pieces.put_nowait, ("end", self.usage("".join(out))))
            except Exception as e:  # the stream must end with an error event, never hang
                loop.call_soon_threadsafe(pieces.put_nowait, ("error", f"generation failed: {e}"))
            finally:
                self.server.done()

        loop.run_in_executor(self.server.worker, produce)
        return EventSourceResponse(self._events(pieces), sep="\n")

    def _chunk(self, delta: dict[str, Any], finish: str | None = None, **extra: Any) -> dict[str, str]:
        body = {
            **self.head,
            "object": "chat.completion.chunk",
            **extra,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
        return {"data": json.dumps(body)}

    async def _events(self, pieces: asyncio.Queue[Any]) -> AsyncIterator[dict[str, str]]:
        try:
            yield self._chunk({"role": "assistant", "content": ""}, couple_lite=self.plan_object)
            while True:
                item = await pieces.get()
                if isinstance(item, str):
                    yield self._chunk({"content": item})
                    continue
                kind, value = item
                if kind == "error":
                    yield {"data": json.dumps({"error": {"message": value, "type": "server_error"}})}
                else:
                    use, finish = value
                    yield self._chunk({}, finish, usage=use)
                yield {"data": "[DONE]"}
                return
        finally:
            self.cancel.set()  # a disconnect lands here too: generation stops after its current token
