"""The server: an OpenAI-compatible HTTP API over one loaded model, a value objective per request.

Owns the app (``app``: :func:`create_app`), what it speaks (``_protocol``: the request,
:class:`ServeLimits`, the error format) and one completion, whole or streamed (``_completion``).
Behind the ``server`` extra (FastAPI, uvicorn, sse-starlette): importing it without them raises
MissingExtraError saying how to install them.

May import: ``couple_lite.steering`` and everything below it. Nothing imports it but the command line.
"""

from ..errors import MissingExtraError

SERVER_INSTALL = 'pip install "couple-lite[server]"'

try:
    from ._protocol import ChatRequest, ServeLimits
    from .app import create_app
except ImportError as e:  # fastapi or sse-starlette missing (anything else is a real error)
    if (e.name or "").split(".")[0] not in ("fastapi", "starlette", "sse_starlette", "pydantic"):
        raise
    raise MissingExtraError(f"the server needs the 'server' extra ({e.name} is missing): {SERVER_INSTALL}") from None

__all__ = ["ChatRequest", "ServeLimits", "create_app", "SERVER_INSTALL"]
