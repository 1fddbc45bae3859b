"""Value-vector extraction by couple-lite vs llama.cpp's own `llama-cvector-generator`, on the same
prompt pairs (the training context pairs of the 10 Schwartz values) and the same model.

The tool is built once from the llama.cpp source inside the llama-cpp-python source package on
PyPI (same version as the installed one) into `.bench_cache/` (ignored by git; ~10 min on 2 cores).
It makes one vector per run, so it runs once per value; we extract all 10 in one call.

Direction definitions differ slightly: the tool averages position-aligned per-token differences
(after padding), we average each answer's tokens and then take the difference. The tool also
saves the difference read at block N-1's output as `direction.N`, so its direction.N is compared
with our layer N-1.

    python bench/extract_vs_cvector_generator.py [--json]
"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import click
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import llama_cpp

from couple_lite import Engine, load_value_system
from couple_lite.engine import read_control_vector, resolve_model
from couple_lite.steering import pack_for
from couple_lite.vectors import value_pairs
from couple_lite.vectors.extraction import mean_difference, pair_states

CACHE = ROOT / ".bench_cache"


def build_tool() -> Path:
    """Build llama-cvector-generator from the sdist of the installed llama-cpp-python (once)."""
    version = llama_cpp.__version__
    exe = CACHE / f"llama.cpp-{version}" / "build" / "bin" / "llama-cvector-generator"
    if exe.exists():
        return exe
    CACHE.mkdir(exist_ok=True)
    src = CACHE / f"llama.cpp-{version}"
    if not (src / "CMakeLists.txt").exists():
        with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
            click.echo(f"downloading llama-cpp-python {version} source from PyPI ...", err=True)
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "pip",
                    "download",
                    "--no-deps",
                    "--no-binary",
                    ":all:",
                    f"llama-cpp-python=={version}",
                    "-d",
                    tmp,
                ],
                check=True,
                capture_output=True,
            )
            archive = next(Path(tmp).glob("*.tar.gz"))
            with tarfile.open(archive) as tar:
                tar.extractall(tmp, filter="data")
            shutil.move(str(next(Path(tmp).glob("llama_cpp_python-*")) / "vendor" / "llama.cpp"), src)
    click.echo("building llama-cvector-generator (once) ...", err=True)
    subprocess.run(
        [
            "cmake",
            "-B",
            "build",
            "-DLLAMA_CURL=OFF",
            "-DLLAMA_BUILD_TESTS=OFF",
            "-DLLAMA_BUILD_EXAMPLES=OFF",
            "-DLLAMA_BUILD_SERVER=OFF",
            "-DCMAKE_BUILD_TYPE=Release",
        ],
        cwd=src,
        check=True,
        capture_output=True,
    )
    subprocess.run(
        ["cmake", "--build", "build", "--target", "llama-cvector-generator", "-j2"],
        cwd=src,
        check=True,
        capture_output=True,
    )
    return exe


def escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def shipped_layers(engine: Engine) -> tuple[int, int]:
    """The layer range of the shipped schwartz10 pack for this model: its one source of truth."""
    pack, _ = pack_for(engine, "schwartz10")
    return pack.extraction.layer_range


@click.command()
@click.option(
    "--tool",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="An already built llama-cvector-generator (default: build into .bench_cache/).",
)
@click.option("--json", "as_json", is_flag=True)
def main(tool: str | None, as_json: bool) -> None:
    exe = Path(tool) if tool else build_tool()
    model = resolve_model(None)
    vs = load_value_system("schwartz10")
    engine = Engine(model)
    pairs = {v: [p for p in ps if not p.held_out] for v, ps in value_pairs(vs, "context").items()}
    L = engine.n_layer

    t0 = time.perf_counter()
    flat = [p for v in vs.names for p in pairs[v]]
    pos, neg = pair_states(engine, flat)
    idx = np.repeat(np.arange(len(vs.names)), [len(pairs[v]) for v in vs.names])
    ours = np.stack(
        [[mean_difference(pos[idx == k, il], neg[idx == k, il]) for il in range(L)] for k in range(len(vs.names))]
    )
    ours_s = time.perf_counter() - t0

    theirs = np.zeros_like(ours)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        for k, v in enumerate(vs.names):
            pf, nf, out = Path(tmp, f"{v}.pos"), Path(tmp, f"{v}.neg"), Path(tmp, f"{v}.gguf")
            pf.write_text("\n".join(escape(engine.chat_prompt(p.question) + p.positive) for p in pairs[v]) + "\n")
            nf.write_text("\n".join(escape(engine.chat_prompt(p.question) + p.negative) for p in pairs[v]) + "\n")
            subprocess.run(
                [
                    str(exe),
                    "-m",
                    str(model),
                    "--positive-file",
                    str(pf),
                    "--negative-file",
                    str(nf),
                    "--method",
                    "mean",
                    "-t",
                    str(engine.n_threads),
                    "-o",
                    str(out),
                    # the same CPU path as ours: no AMX/repacked buffers where the probe crashed
                    *([] if engine.buffer_verdict.enabled else ["--no-repack"]),
                ],
                check=True,
                capture_output=True,
            )
            theirs[k] = read_control_vector(out, L, engine.n_embd)
        tool_s = time.perf_counter() - t0

    lo, hi = shipped_layers(engine)  # the blocks the shipped pack steers

    def cosines(shift: int) -> list[float]:
        return [
            float(
                ours[k, il]
                @ theirs[k, il + shift]
                / (np.linalg.norm(ours[k, il]) * np.linalg.norm(theirs[k, il + shift]))
            )
            for k in range(len(vs.names))
            for il in range(lo, hi + 1)
        ]

    cos = cosines(1)  # the tool's direction.N comes from block N-1
    same_index = cosines(0)
    result = {
        "ours_s": ours_s,
        "cvector_generator_s": tool_s,
        "ratio": ours_s / tool_s,
        "cosine_median": statistics.median(cos),
        "cosine_min": min(cos),
        "layers": [lo, hi],
        "cosine_median_same_index": statistics.median(same_index),
        "pairs": len(flat),
        "values": len(vs.names),
    }
    if as_json:
        click.echo(json.dumps(result, indent=2))
        return
    click.echo(
        f"{len(vs.names)} values, {len(flat)} pairs: ours {ours_s:.1f} s, llama-cvector-generator "
        f"{tool_s:.1f} s, ratio {result['ratio']:.2f} (goal <= 1.2)"
    )
    click.echo(
        f"cosine of the mean-difference directions, blocks {lo}-{hi}: median {result['cosine_median']:.3f}, "
        f"min {result['cosine_min']:.3f} (their direction.N vs our block N: "
        f"{result['cosine_median_same_index']:.3f})"
    )


if __name__ == "__main__":
    main()
