"""An OpenAI-compatible local server: one loaded model, a different value objective per request.

``POST /v1/chat/completions`` (streamed or not), ``GET /v1/models``, ``GET /health``. A request's
extra body fields ``values`` and ``priority`` (the CLI's syntax, or mappings) give its objective, ``mode``
(vector, prompt or hybrid, as ``steer --mode``) how it reaches the model; its
plan (counterfactual, coefficients) comes back under ``couple_lite``, and in the first streamed
chunk. No objective: unsteered. Requests run one at a time on one worker thread, each under its own
vector (a streamed answer never sees another request's); a client that disconnects stops its
generation after the current token. Server-sent events come from sse-starlette and the bearer
check from FastAPI's security helpers. Needs the ``server`` extra (FastAPI, uvicorn, sse-starlette).
"""

from __future__ import annotations

import hmac
import json
import threading
from concurrent.futures import ThreadPoolExecutor

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import ValidationError

from ..errors import CoupleError
from ..values import make_objective
from ._completion import Completion
from ._protocol import ChatRequest, Refused, ServeLimits, error_response, one_line

__all__ = ["ServeLimits", "ChatRequest", "create_app"]


class _Server:
    """The state behind the app: the steerer, one worker thread, the admission count."""

    def __init__(self, steerer, model_name: str, api_key: str | None, limits: ServeLimits):
        self.steerer, self.model_name, self.api_key, self.limits = steerer, model_name, api_key, limits
        self.worker = ThreadPoolExecutor(1, thread_name_prefix="couple-lite-serve")
        self._count = threading.Lock()
        self.pending = 0  # admitted and not finished: the one answering plus those waiting

    def check_key(self, credentials: HTTPAuthorizationCredentials | None) -> None:
        """The request's bearer token against the key, in constant time (no key: anyone may ask)."""
        if self.api_key is None:
            return
        given = credentials.credentials if credentials is not None else ""
        if not hmac.compare_digest(given.encode(), self.api_key.encode()):
            raise Refused(401, "missing or wrong API key: send 'Authorization: Bearer KEY'", "invalid_api_key")

    async def read(self, request: Request) -> ChatRequest:
        limit = self.limits.max_body_bytes
        if int(request.headers.get("content-length") or 0) > limit:
            raise Refused(413, f"request body over {limit} bytes", "request_too_large")
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > limit:
                raise Refused(413, f"request body over {limit} bytes", "request_too_large")
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise Refused(400, "the body is not JSON", "bad_json") from None
        try:
            req = ChatRequest.model_validate(data)
        except ValidationError as e:
            raise Refused(400, one_line(e), "bad_request") from None
        for name in ("stop", "tools"):
            if getattr(req, name):
                raise Refused(400, f"'{name}' is not supported by this server; leave it out", "unsupported")
        asked = req.max_completion_tokens or req.max_tokens
        if asked is not None and asked > self.limits.max_tokens:
            raise Refused(
                400,
                f"max_tokens {asked} is over this server's limit of {self.limits.max_tokens}",
                "max_tokens_too_large",
            )
        return req

    def plan(self, req: ChatRequest):
        if req.values is None:
            if req.priority is not None:
                raise Refused(400, 'priority needs values: give target levels, e.g. "benevolence=6"', "bad_objective")
            return None
        try:
            obj = make_objective(req.values, req.priority, self.steerer.system)
            return self.steerer.plan(obj, strict=True)
        except CoupleError as e:
            raise Refused(400, str(e), "bad_objective") from None

    def admit(self) -> None:
        with self._count:
            if self.pending > self.limits.max_queue:
                raise Refused(
                    429,
                    f"{self.pending} requests are in line (limit {self.limits.max_queue} waiting); retry later",
                    "queue_full",
                )
            self.pending += 1

    def done(self) -> None:
        with self._count:
            self.pending -= 1


def create_app(steerer, model_name: str, api_key: str | None = None, limits: ServeLimits | None = None) -> FastAPI:
    """The ASGI app serving ``steerer``'s model (run it with uvicorn; ``couple-lite serve`` does)."""
    srv = _Server(steerer, model_name, api_key, limits or ServeLimits())
    app = FastAPI(title="couple-lite", version="1")
    app.state.server = srv
    bearer = HTTPBearer(auto_error=False)  # the scheme's case does not matter; a missing header gives None

    @app.exception_handler(Refused)
    async def refused(_request, e: Refused):
        return error_response(e.status, str(e), e.code)

    @app.exception_handler(Exception)
    async def failed(_request, e: Exception):  # a JSON body even for what should not happen
        body = {
            "error": {"message": f"internal error: {type(e).__name__}: {e}", "type": "server_error", "code": "internal"}
        }
        return JSONResponse(body, 500)

    @app.get("/health")
    async def health():
        return {"status": "ok", "model": model_name, "pending": srv.pending}

    @app.get("/v1/models")
    async def models(credentials: HTTPAuthorizationCredentials | None = Depends(bearer)):
        srv.check_key(credentials)
        return {
            "object": "list",
            "data": [{"id": model_name, "object": "model", "created": 0, "owned_by": "couple-lite"}],
        }

    @app.post("/v1/chat/completions")
    async def chat(request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(bearer)):
        srv.check_key(credentials)
        completion = Completion.of(srv, await srv.read(request))
        srv.admit()
        return completion.stream() if completion.request.stream else await completion.answer()

    return app
