"""Speed with and without llama.cpp's extra CPU buffer types (AMX / weight repacking), the path
couple-lite turns off on hosts where the AMX probe crashes.

Measures prompt processing (a 120-token prompt) and decoding (greedy tokens) for the default model
(Q4_1) and a Q4_0 copy of it (requantized here: Q4_0 is the type CPU repacking speeds up), each with
extra buffer types on and off, in interleaved runs; reports medians and the off/on ratios.

    python bench/extra_buffers.py [--runs 5] [--tokens 64] [--threads N] [--json]
"""

from __future__ import annotations

import ctypes
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import click

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from couple_lite import Engine
from couple_lite.engine import resolve_model

PROMPT = "Write a short story about a lighthouse keeper who finds a message in a bottle. " * 8


def requantize_q4_0(src: Path, dst: Path) -> Path:
    """A Q4_0 copy of ``src`` made with llama.cpp's own quantizer (cached beside the models)."""
    import llama_cpp

    if dst.is_file():
        return dst
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = llama_cpp.LLAMA_FTYPE_MOSTLY_Q4_0
    params.allow_requantize = True
    with tempfile.TemporaryDirectory(dir=dst.parent) as tmp:
        part = Path(tmp) / dst.name
        rc = llama_cpp.llama_model_quantize(str(src).encode(), str(part).encode(), ctypes.byref(params))
        if rc != 0:
            raise SystemExit(f"quantizing to Q4_0 failed (code {rc})")
        part.replace(dst)
    return dst


def rates(engine: Engine, tokens: int) -> tuple[float, float]:
    """(prompt tokens/s, decode tokens/s) for one greedy generation."""
    llm = engine.llm
    toks = engine.tokenize(PROMPT)
    llm.reset()
    t0 = time.perf_counter()
    llm.eval(toks)
    t1 = time.perf_counter()
    n, t2 = 0, None
    for _ in engine.stream(PROMPT[:200], max_tokens=tokens, temperature=0.0, chat=False):
        n += 1
        if t2 is None:
            t2 = time.perf_counter()
    return len(toks) / (t1 - t0), (n - 1) / (time.perf_counter() - t2)


@click.command()
@click.option("--runs", default=5, show_default=True)
@click.option("--tokens", default=64, show_default=True)
@click.option("--threads", type=int, default=None, help="llama.cpp threads (default: physical cores).")
@click.option("--json", "as_json", is_flag=True)
def main(runs: int, tokens: int, threads: int | None, as_json: bool) -> None:
    q4_1 = resolve_model(None)
    # cached beside the default model (a registered model lives in the model cache folder)
    q4_0 = requantize_q4_0(q4_1, q4_1.parent / (q4_1.stem.replace("Q4_1", "Q4_0") + ".gguf"))
    rows = {}
    for label, path in (("Q4_1", q4_1), ("Q4_0", q4_0)):
        engines = {on: Engine(path, n_ctx=512, n_threads=threads, extra_buffer_types=on) for on in (True, False)}
        for e in engines.values():
            rates(e, 8)  # warm-up
        got = {on: ([], []) for on in engines}
        for i in range(runs):
            for on in (True, False) if i % 2 == 0 else (False, True):
                p, d = rates(engines[on], tokens)
                got[on][0].append(p)
                got[on][1].append(d)
        med = {on: (statistics.median(got[on][0]), statistics.median(got[on][1])) for on in got}
        rows[label] = {
            "prompt_tok_s_on": med[True][0],
            "prompt_tok_s_off": med[False][0],
            "decode_tok_s_on": med[True][1],
            "decode_tok_s_off": med[False][1],
            "prompt_ratio_off_on": med[False][0] / med[True][0],
            "decode_ratio_off_on": med[False][1] / med[True][1],
        }
        threads = engines[True].n_threads
        for e in engines.values():
            e.close()
    import llama_cpp

    result = {
        "runs": runs,
        "tokens": tokens,
        "n_threads": threads,
        "system_info": llama_cpp.llama_print_system_info().decode().strip(),
        "models": rows,
    }
    if as_json:
        click.echo(json.dumps(result, indent=2))
        return
    click.echo(f"{runs} interleaved runs, {threads} threads; {result['system_info']}")
    click.echo(
        f"{'model':<6} {'prompt on':>10} {'prompt off':>11} {'ratio':>6} "
        f"{'decode on':>10} {'decode off':>11} {'ratio':>6}"
    )
    for label, r in rows.items():
        click.echo(
            f"{label:<6} {r['prompt_tok_s_on']:10.1f} {r['prompt_tok_s_off']:11.1f} {r['prompt_ratio_off_on']:6.2f} "
            f"{r['decode_tok_s_on']:10.1f} {r['decode_tok_s_off']:11.1f} {r['decode_ratio_off_on']:6.2f}"
        )
    click.echo("tok/s medians; ratio = off / on (below 1: the fallback is slower)")


if __name__ == "__main__":
    main()
