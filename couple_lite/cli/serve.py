"""``serve``: the OpenAI-compatible local server (``couple_lite.server``), imported only when named."""

from __future__ import annotations

import ipaddress

import click

from ._common import N_CTX_OPTION, SCOPE_OPTION, THREADS_OPTION, steerer_for


@click.command()
@click.option("--model", default=None, help="GGUF path or registered name (default: smollm2-135m).")
@click.option(
    "--pack",
    "pack_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="Value-vector pack (default: the shipped one).",
)
@click.option(
    "--system", default="schwartz10", show_default=True, help="Value system of the pack and of every objective."
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind (loopback: only this machine).")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True)
@click.option(
    "--api-key",
    default=None,
    envvar="COUPLE_LITE_API_KEY",
    help="Require 'Authorization: Bearer KEY' on /v1 (or set COUPLE_LITE_API_KEY).",
)
@click.option(
    "--max-tokens-limit",
    type=click.IntRange(min=1),
    default=1024,
    show_default=True,
    help="The most tokens one request may ask for.",
)
@click.option(
    "--queue",
    type=click.IntRange(min=0),
    default=8,
    show_default=True,
    help="Requests that may wait behind the one being answered (more get 429).",
)
@click.option(
    "--log-level",
    type=click.Choice(["warning", "info", "debug"]),
    default="warning",
    show_default=True,
    help="uvicorn's log level ('info' logs every request and when the port is bound).",
)
@THREADS_OPTION
@N_CTX_OPTION
@SCOPE_OPTION
def serve(model, pack_path, system, host, port, api_key, max_tokens_limit, queue, log_level):
    """Serve the model over an OpenAI-compatible HTTP API, a value objective per request.

    Example: couple-lite serve --port 8000, then send a chat completion with extra fields
    "values": "benevolence=6,power=1" (and "priority") to http://127.0.0.1:8000/v1/chat/completions
    """
    from ..server import ServeLimits, create_app  # MissingExtraError, one line, without the server extra

    try:
        import uvicorn
    except ImportError:
        from ..errors import MissingExtraError
        from ..server import SERVER_INSTALL

        raise MissingExtraError(f"serve needs the server extra (uvicorn is missing): {SERVER_INSTALL}") from None
    if api_key is not None and not api_key.strip():
        raise click.BadParameter("the API key is empty", param_hint="--api-key")
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not loopback and api_key is None:
        click.echo(f"warning: serving on {host} without --api-key: anyone who can reach it can use the model", err=True)
    steerer = steerer_for(model, pack_path, system)
    app = create_app(steerer, steerer.model_name, api_key, ServeLimits(max_tokens=max_tokens_limit, max_queue=queue))
    click.echo(f"serving {steerer.model_name} on http://{host}:{port}/v1 (Ctrl-C stops)", err=True)
    uvicorn.run(app, host=host, port=port, log_level=log_level)
