"""Decode speed with a control vector applied vs without, on the default model.

Runs alternate (unsteered, steered, steered, unsteered, ...) so machine noise hits both alike;
reports medians and their ratio (goal >= 0.98). ``--load`` runs a bounded CPU hog (one busy
process per CPU, stopped when the bench ends or after 10 minutes) beside it: a busy machine, where
spinning OpenMP threads starve each other. ``--threads`` sets llama.cpp's thread count.

    python bench/steer_overhead.py [--runs 10] [--tokens 64] [--model NAME|PATH] [--load] [--threads N] [--json]
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import click
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from couple_lite import Engine, load_engine

PROMPT = "Write a short story about a lighthouse keeper."
HOG_SECONDS = 600  # the hog stops by itself even if the bench is killed
HOG = "import time\nend = time.monotonic() + {s}\nwhile time.monotonic() < end: pass"


def start_hog() -> list[subprocess.Popen]:
    """One busy-looping process per CPU, each ending by itself after HOG_SECONDS."""
    code = HOG.format(s=HOG_SECONDS)
    return [subprocess.Popen([sys.executable, "-c", code]) for _ in range(os.cpu_count() or 1)]


def decode_rate(engine: Engine, tokens: int) -> float:
    """Tokens per second from the first generated token to the last (prompt time excluded)."""
    n, t0 = 0, None
    for _ in engine.stream(PROMPT, max_tokens=tokens, temperature=0.0):
        n += 1
        if t0 is None:
            t0 = time.perf_counter()
    return (n - 1) / (time.perf_counter() - t0)


@click.command()
@click.option("--runs", default=10, show_default=True)
@click.option("--tokens", default=64, show_default=True)
@click.option("--model", default=None)
@click.option("--load", is_flag=True, help="Run a bounded CPU hog (one busy process per CPU) beside the bench.")
@click.option("--threads", type=int, default=None, help="llama.cpp threads (default: couple-lite's default).")
@click.option("--json", "as_json", is_flag=True)
def main(runs: int, tokens: int, model: str | None, load: bool, threads: int | None, as_json: bool) -> None:
    engine = load_engine(model, n_ctx=1024, n_threads=threads)
    hog = start_hog() if load else []
    try:
        result = measure(engine, runs, tokens)
    finally:
        for p in hog:
            p.kill()
            p.wait()
    result.update(
        load=load, omp_wait_policy=os.environ.get("OMP_WAIT_POLICY"), gomp_spincount=os.environ.get("GOMP_SPINCOUNT")
    )
    if as_json:
        click.echo(json.dumps(result, indent=2))
    else:
        click.echo(
            f"model {result['model']}, {runs} interleaved runs of {tokens} tokens, {engine.n_threads} threads"
            f"{', CPU hog running' if load else ''}, OMP_WAIT_POLICY={result['omp_wait_policy']}"
        )
        click.echo(f"unsteered  {result['unsteered_tok_s']:8.1f} tok/s (median)")
        click.echo(f"steered    {result['steered_tok_s']:8.1f} tok/s (median)")
        click.echo(f"ratio      {result['ratio']:8.3f}   (goal >= 0.98)")


def measure(engine: Engine, runs: int, tokens: int) -> dict:
    h = engine.hidden_states([engine.chat_prompt(PROMPT)])[0]
    rng = np.random.default_rng(0)
    v = np.zeros((engine.n_layer, engine.n_embd), dtype=np.float32)
    lo, hi = engine.n_layer * 2 // 3, engine.n_layer - 3
    for il in range(lo, hi + 1):  # a typical value vector: 2% of the residual norm per layer
        d = rng.standard_normal(engine.n_embd)
        v[il] = d / np.linalg.norm(d) * 0.02 * np.linalg.norm(h[il])
    decode_rate(engine, 8)  # warm-up
    plain, steered = [], []
    for i in range(runs):
        for kind in ("plain", "steered") if i % 2 == 0 else ("steered", "plain"):
            if kind == "plain":
                plain.append(decode_rate(engine, tokens))
            else:
                with engine.steered(v):
                    steered.append(decode_rate(engine, tokens))
    result = {
        "steered_tok_s": statistics.median(steered),
        "unsteered_tok_s": statistics.median(plain),
        "ratio": statistics.median(steered) / statistics.median(plain),
        "runs": runs,
        "tokens": tokens,
        "model": str(engine.model_path.name),
        "n_threads": engine.n_threads,
    }
    return result


if __name__ == "__main__":
    main()
