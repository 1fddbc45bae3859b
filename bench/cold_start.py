"""Cold start: `couple-lite steer` (run from the checkout's ``cli.py``) to its first token vs a bare
llama-cpp-python script that loads the same model and generates, and the peak RSS of each
(interleaved runs, medians).

    python bench/cold_start.py [--runs 5] [--json]
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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from couple_lite.engine import default_threads, resolve_model

PROMPT = "How should I spend my weekend?"
BARE = """
import sys, llama_cpp
llm = llama_cpp.Llama(sys.argv[1], n_ctx=2048, n_threads={threads}, n_threads_batch={threads}, verbose=False)
for chunk in llm.create_chat_completion([{{"role": "user", "content": sys.argv[2]}}], max_tokens=8,
                                        temperature=0.0, stream=True):
    text = chunk["choices"][0]["delta"].get("content")
    if text:
        sys.stdout.write(text)
        sys.stdout.flush()
"""


def first_token(cmd: list[str]) -> tuple[float, float]:
    """Seconds from start to the first byte on stdout, and the child's peak RSS in MB."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=ROOT)
    first = p.stdout.read(1)
    t = time.perf_counter() - t0
    p.stdout.read()
    _, status, usage = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    if not first or p.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:3])} failed (exit {p.returncode})")
    return t, usage.ru_maxrss / 1024  # Linux reports KiB


@click.command()
@click.option("--runs", default=5, show_default=True)
@click.option("--json", "as_json", is_flag=True)
def main(runs: int, as_json: bool) -> None:
    model = str(resolve_model(None))
    ours_cmd = [
        sys.executable,
        "cli.py",
        "steer",
        PROMPT,
        "--values",
        "benevolence=6,power=1",
        "--max-tokens",
        "8",
        "--temperature",
        "0",
    ]
    bare_cmd = [sys.executable, "-c", BARE.format(threads=default_threads()), model, PROMPT]
    first_token(bare_cmd)  # warm the page cache
    ours, bare = [], []
    for i in range(runs):
        for kind in ("ours", "bare") if i % 2 == 0 else ("bare", "ours"):
            (ours if kind == "ours" else bare).append(first_token(ours_cmd if kind == "ours" else bare_cmd))
    o_t, b_t = statistics.median(t for t, _ in ours), statistics.median(t for t, _ in bare)
    result = {
        "ours_first_token_s": o_t,
        "bare_first_token_s": b_t,
        "ratio_first_token": o_t / b_t,
        "ours_peak_mb": max(m for _, m in ours),
        "bare_peak_mb": max(m for _, m in bare),
        "runs": runs,
    }
    if as_json:
        click.echo(json.dumps(result, indent=2))
        return
    click.echo(
        f"first token: ours {o_t:.2f} s, bare llama-cpp-python {b_t:.2f} s, ratio "
        f"{result['ratio_first_token']:.2f} (goal <= 1.3)"
    )
    click.echo(
        f"peak RSS: ours {result['ours_peak_mb']:.0f} MB, bare {result['bare_peak_mb']:.0f} MB (goal <= bare + 200 MB)"
    )


if __name__ == "__main__":
    main()
