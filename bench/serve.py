"""What per-request steering costs a server: `couple-lite serve` answering with a different
value objective on every request vs the same server unsteered, and llama-cpp-python's own server
(`python -m llama_cpp.server`, unsteered: it cannot steer per request) on the same model.

N clients x M streamed, greedy requests per phase on loopback, then it stops. Both servers are
loaded (an idle one costs no CPU) and the phases interleave -- ours unsteered, ours steered, theirs
-- round after round, so drift hits all alike. Per phase: requests/s, completion tokens/s, p50/p95
latency and time to first token (with one client, the prompt plus, when steered, planning and
setting the vector; with more, also the wait for the request ahead) and decode time per token.
Steered answers may stop before max_tokens (greedy text ends on its own), which shortens requests:
compare tokens/s and decode ms/token, not requests/s.

    python bench/serve.py [--clients 2] [--requests 4] [--rounds 4] [--max-tokens 48] [--scope all|answer] [--json]
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import click
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from couple_lite.engine import resolve_model

# everyday requests (ours) and objectives that differ request by request
PROMPTS = (
    "How should I spend my weekend?",
    "What is a good way to start a new hobby?",
    "How do I plan a dinner with friends?",
    "What should I think about before moving to a new city?",
)
OBJECTIVES = (
    ("benevolence=6,power=1", "benevolence>power"),
    ("power=6,universalism=2", "power>universalism"),
    ("tradition=6,stimulation=1", None),
    ("stimulation=6,security=2", "stimulation>security"),
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(cmd: list[str], ready: str) -> subprocess.Popen:
    """Start a server process; return once its log shows ``ready`` (uvicorn's bound-port line)."""
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    seen = []
    for line in proc.stderr:
        seen.append(line)
        if ready in line:
            threading.Thread(target=proc.stderr.read, daemon=True).start()
            return proc
    raise click.ClickException("server did not start:\n" + "".join(seen[-20:]))


def _phase(base: str, clients: int, requests: int, max_tokens: int, steered: bool) -> dict:
    import openai

    client = openai.OpenAI(base_url=base + "/v1", api_key="none", max_retries=0, timeout=600)

    def one(k: int) -> tuple[float, float, int]:  # latency, time to first token, tokens
        extra = {}
        if steered:
            values, priority = OBJECTIVES[k % len(OBJECTIVES)]
            extra = {"values": values, **({"priority": priority} if priority else {})}
        t0 = time.perf_counter()
        first, tokens = None, 0
        stream = client.chat.completions.create(
            model="m",
            messages=[{"role": "user", "content": PROMPTS[k % len(PROMPTS)]}],
            max_tokens=max_tokens,
            temperature=0.0,
            stream=True,
            extra_body=extra,
        )
        for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                first = first or time.perf_counter()
                tokens += 1  # one streamed piece per token in both servers
        end = time.perf_counter()
        return end - t0, (first or end) - t0, tokens

    t0 = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        got = list(pool.map(one, range(clients * requests)))
    wall = time.perf_counter() - t0
    lat, ttft, toks = (np.array(x) for x in zip(*got))
    return {
        "wall_s": wall,
        "requests_per_s": len(got) / wall,
        "tokens_per_s": float(toks.sum()) / wall,
        "latency_ms": lat * 1e3,
        "ttft_ms": ttft * 1e3,
        "tokens": int(toks.sum()),
        "decode_ms_per_token": (lat - ttft) * 1e3 / np.maximum(toks - 1, 1),
    }


def _summary(phases: list[dict]) -> dict:
    lat = np.concatenate([p["latency_ms"] for p in phases])
    ttft = np.concatenate([p["ttft_ms"] for p in phases])
    wall = sum(p["wall_s"] for p in phases)
    return {
        "requests_per_s": sum(len(p["latency_ms"]) for p in phases) / wall,
        "tokens_per_s": sum(p["tokens"] for p in phases) / wall,
        "tokens_per_s_per_round": [round(p["tokens_per_s"], 2) for p in phases],
        "latency_p50_ms": float(np.percentile(lat, 50)),
        "latency_p95_ms": float(np.percentile(lat, 95)),
        "ttft_p50_ms": float(np.percentile(ttft, 50)),
        "ttft_p95_ms": float(np.percentile(ttft, 95)),
        "decode_ms_per_token_p50": float(np.median(np.concatenate([p["decode_ms_per_token"] for p in phases]))),
        "requests": len(lat),
        "tokens_per_request": sum(p["tokens"] for p in phases) / len(lat),
    }


@click.command()
@click.option("--model", default=None, help="GGUF path or registered name (default: smollm2-135m).")
@click.option("--clients", type=click.IntRange(min=1), default=2, show_default=True)
@click.option("--requests", type=click.IntRange(min=1), default=4, show_default=True, help="Per client per phase.")
@click.option("--rounds", type=click.IntRange(min=1), default=4, show_default=True)
@click.option("--max-tokens", type=click.IntRange(min=1), default=48, show_default=True)
@click.option("--threads", type=click.IntRange(min=1), default=2, show_default=True)
@click.option(
    "--scope",
    type=click.Choice(["all", "answer"]),
    default="all",
    show_default=True,
    help="Our server's steering scope ('answer': the prompt, and so its cached head, unsteered).",
)
@click.option("--json", "as_json", is_flag=True)
def main(model, clients, requests, rounds, max_tokens, threads, scope, as_json) -> None:
    path = resolve_model(model)
    out: dict = {
        "model": path.name,
        "clients": clients,
        "requests_per_phase": clients * requests,
        "max_tokens": max_tokens,
        "threads": threads,
        "rounds": rounds,
        "scope": scope,
    }
    servers = {
        "ours": [
            sys.executable,
            str(ROOT / "cli.py"),
            "serve",
            "--model",
            str(path),
            "--threads",
            str(threads),
            "--scope",
            scope,
            "--log-level",
            "info",
            "--port",
        ]
    }
    try:
        import llama_cpp.server  # noqa: F401  (needs sse-starlette and starlette-context)
    except ImportError as e:
        out["llama_cpp_server"] = f"not run: {e.name} is missing (pip install sse-starlette starlette-context)"
    else:
        servers["theirs"] = [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            str(path),
            "--n_threads",
            str(threads),
            "--n_threads_batch",
            str(threads),
            "--n_ctx",
            "2048",
            "--interrupt_requests",
            "False",  # its default cuts a stream when the next request arrives
            "--port",
        ]
    procs, bases = {}, {}
    try:
        for name, cmd in servers.items():
            port = _free_port()
            procs[name] = _start(cmd + [str(port)], "Uvicorn running on")
            bases[name] = f"http://127.0.0.1:{port}"
            _phase(bases[name], 1, 1, 8, name == "ours")  # warm-up: first vector, chat template, kernels
        phases: dict[str, list] = {"ours_unsteered": [], "ours_steered": [], "llama_cpp_server": []}
        for _ in range(rounds):
            phases["ours_unsteered"].append(_phase(bases["ours"], clients, requests, max_tokens, False))
            phases["ours_steered"].append(_phase(bases["ours"], clients, requests, max_tokens, True))
            if "theirs" in bases:
                phases["llama_cpp_server"].append(_phase(bases["theirs"], clients, requests, max_tokens, False))
    finally:
        for p in procs.values():
            p.terminate()
            p.wait(timeout=60)
    for name, got in phases.items():
        if got:
            out[name] = _summary(got)
    u, s = out["ours_unsteered"], out["ours_steered"]
    out["steering_cost"] = {
        "tokens_per_s_ratio": s["tokens_per_s"] / u["tokens_per_s"],
        "decode_ms_per_token_ratio": s["decode_ms_per_token_p50"] / u["decode_ms_per_token_p50"],
        "ttft_p50_extra_ms": s["ttft_p50_ms"] - u["ttft_p50_ms"],
        "ttft_p95_extra_ms": s["ttft_p95_ms"] - u["ttft_p95_ms"],
        "latency_p95_extra_ms": s["latency_p95_ms"] - u["latency_p95_ms"],
    }
    if isinstance(out.get("llama_cpp_server"), dict):
        out["ours_vs_llama_cpp_server_tokens_per_s"] = u["tokens_per_s"] / out["llama_cpp_server"]["tokens_per_s"]
    if as_json:
        click.echo(json.dumps(out, indent=2))
        return
    for k in ("ours_unsteered", "ours_steered", "llama_cpp_server"):
        r = out.get(k)
        if isinstance(r, str) or r is None:
            click.echo(f"{k:<16} {r}")
            continue
        click.echo(
            f"{k:<16} {r['requests_per_s']:.2f} req/s  {r['tokens_per_s']:.1f} tok/s "
            f"({r['tokens_per_request']:.0f} per request, by round {r['tokens_per_s_per_round']})  "
            f"decode {r['decode_ms_per_token_p50']:.2f} ms/token  latency p50 {r['latency_p50_ms']:.0f} "
            f"p95 {r['latency_p95_ms']:.0f} ms  TTFT p50 {r['ttft_p50_ms']:.0f} p95 {r['ttft_p95_ms']:.0f} ms"
        )
    c = out["steering_cost"]
    click.echo(
        f"steering: {c['tokens_per_s_ratio']:.3f}x tokens/s, {c['decode_ms_per_token_ratio']:.3f}x decode "
        f"ms/token, TTFT p95 {c['ttft_p95_extra_ms']:+.1f} ms"
    )
    if "ours_vs_llama_cpp_server_tokens_per_s" in out:
        click.echo(f"ours / llama-cpp-python server: {out['ours_vs_llama_cpp_server_tokens_per_s']:.3f}x tokens/s")


if __name__ == "__main__":
    main()
