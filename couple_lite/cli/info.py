"""``info``: llama-cpp-python, this host and a model, described."""

from __future__ import annotations

import click

from ._common import THREADS_OPTION, print_json, threads

__all__ = ["info"]


@click.command()
@click.option(
    "--model", default=None, help="GGUF path or registered name (default: smollm2-135m, fetched on first use)."
)
@click.option(
    "--n-gpu-layers", type=int, default=None, help="Layers to offload (default: all when GPU offload is available)."
)
@click.option("--check-steering", is_flag=True, help="Also check that control vectors move this model's logits.")
@THREADS_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def info(model, n_gpu_layers, check_steering, as_json):
    """Describe llama-cpp-python, GPU offload and a model (fetching the default model if needed).

    Example: couple-lite info --json
    """
    from ..engine import load_engine

    engine = load_engine(model, n_ctx=512, n_gpu_layers=n_gpu_layers, n_threads=threads())
    data = engine.info()
    if check_steering:
        data["max_logit_change_under_test_vector"] = engine.check_steerable()
    if as_json:
        print_json(data)
    else:
        for k, v in data.items():
            if k == "extra_buffer_types":
                v = f"{'on' if v['enabled'] else 'off'} ({v['reason']})"
            elif isinstance(v, dict):
                v = ", ".join(f"{a}={b}" for a, b in v.items())
            click.echo(f"{k:<20} {v}")
