"""What the server speaks: the request it reads, the limits it enforces, the error format it
answers with, and the plan object it adds to OpenAI's response format."""

from __future__ import annotations

from typing import Any, Literal

from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..steering import Delivery

__all__ = [
    "ServeLimits",
    "Message",
    "ChatRequest",
    "Refused",
    "error_response",
    "conversation",
    "one_line",
    "plan_json",
]


class ServeLimits(BaseModel):
    """What one request may ask and how many may wait (the server's safe defaults)."""

    max_body_bytes: int = Field(default=256 * 1024, ge=1024)
    max_tokens: int = Field(default=1024, ge=1)  # the most a request may ask for
    max_queue: int = Field(default=8, ge=0)  # requests waiting behind the one being answered


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


class Refused(Exception):
    """A request the server turns down: an HTTP status, a one-line message and an error code."""

    def __init__(self, status: int, message: str, code: str):
        super().__init__(message)
        self.status, self.code = status, code


def error_response(status: int, message: str, code: str) -> JSONResponse:
    """The OpenAI error format every refusal uses."""
    return JSONResponse({"error": {"message": message, "type": "invalid_request_error", "code": code}}, status)


def conversation(messages: list[Message]) -> tuple[str, str | None, list[tuple[str, str]]]:
    """(last user turn, system prompt, earlier (user, assistant) turns) of a message list."""
    system = "\n".join(m.text() for m in messages if m.role in ("system", "developer")) or None
    turns = [m for m in messages if m.role in ("user", "assistant")]
    if (
        not turns
        or turns[-1].role != "user"
        or any(m.role != ("user" if i % 2 == 0 else "assistant") for i, m in enumerate(turns))
    ):
        raise Refused(400, "messages must alternate user and assistant turns and end with a user turn", "bad_messages")
    pairs = [(turns[i].text(), turns[i + 1].text()) for i in range(0, len(turns) - 1, 2)]
    return turns[-1].text(), system, pairs


def one_line(e: ValidationError) -> str:
    """The first validation error as ``where: what``."""
    err = e.errors()[0]
    where = ".".join(str(x) for x in err["loc"]) or "body"
    return f"{where}: {err['msg']}"


def plan_json(plan, mode: str = "vector", system_prompt: str | None = None) -> dict | None:
    """The plan as the ``couple_lite`` object of a response (None: the answer is unsteered)."""
    if plan is None:
        return None
    return {
        "mode": mode,
        "system_prompt": system_prompt,
        "objective": {"targets": plan.objective.targets, "weights": plan.objective.weights},
        "factual": plan.factual,
        "counterfactual": plan.counterfactual,
        "coefficients": plan.coefficients,
        "predicted": plan.predicted,
        "reached": plan.reached,
        "warnings": plan.warnings,
    }
