"""Generation options are checked: llama.cpp takes max_tokens <= 0 as "no limit"
and accepts nonsense temperatures and seeds."""

from __future__ import annotations

import math

import pytest
from click.testing import CliRunner

from cli import main
from couple_lite.engine._options import check_generation
from couple_lite.errors import EngineError


@pytest.mark.parametrize(
    "kw, name",
    [
        (dict(max_tokens=0), "max_tokens"),
        (dict(max_tokens=-5), "max_tokens"),
        (dict(max_tokens=2.5), "max_tokens"),
        (dict(temperature=-1000), "temperature"),
        (dict(temperature=math.nan), "temperature"),
        (dict(temperature=math.inf), "temperature"),
        (dict(top_p=0), "top_p"),
        (dict(top_p=1.5), "top_p"),
        (dict(seed=-1), "seed"),
        (dict(seed=10**20), "seed"),
        (dict(seed=True), "seed"),
    ],
)
def test_bad_generation_options_are_named(kw, name, tiny_engine):
    args = dict(max_tokens=4, temperature=0.0, top_p=0.95, seed=0) | kw
    with pytest.raises(EngineError, match=name):
        check_generation(**args)
    with pytest.raises(EngineError, match=name):  # the engine checks before generating anything
        tiny_engine.generate("abc", chat=False, **args)


def test_good_generation_options_pass(tiny_engine):
    check_generation(1, 0.0, 1.0, 0)
    assert tiny_engine.generate("abc", chat=False, max_tokens=3, temperature=0.0)


@pytest.mark.parametrize(
    "opt",
    [
        ["--max-tokens", "0"],
        ["--max-tokens", "-5"],
        ["--temperature", "-1000"],
        ["--temperature", "inf"],
        ["--seed", "-1"],
        ["--seed", "1" * 20],
    ],
)
def test_the_cli_refuses_bad_generation_options_before_loading_anything(opt):
    r = CliRunner().invoke(main, ["steer", "hi", "--values", "power=6", *opt])
    assert r.exit_code == 2 and "Invalid value" in r.output
