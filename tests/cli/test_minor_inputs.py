"""Minor input defects: names that could silently merge or mislead."""

from __future__ import annotations

import math

import numpy as np
import pytest

from couple_lite.engine.control_vector import read_control_vector
from couple_lite.errors import ControlVectorError, ValueSystemError
from couple_lite.values.systems import ValueSystem, load_value_system


def _system_file(tmp_path, values):
    import json

    p = tmp_path / "s.json"
    p.write_text(json.dumps({"name": "s", "values": values}))
    return p


def test_an_alias_that_is_another_values_name_is_rejected(tmp_path):
    path = _system_file(
        tmp_path,
        [{"name": "honesty", "definition": "x", "aliases": ["loyalty"]}, {"name": "loyalty", "definition": "y"}],
    )
    with pytest.raises(ValueSystemError, match="aliases loyalty"):
        load_value_system(path)


def test_nan_angles_are_rejected_as_such(tmp_path):
    with pytest.raises(Exception, match="finite"):
        ValueSystem(
            name="s",
            values=[{"name": "a", "definition": "x", "angle": math.nan}, {"name": "b", "definition": "y", "angle": 10}],
        )


@pytest.mark.parametrize(
    "names, msg",
    [(["direction.1", "direction.01"], "unknown tensor"), (["direction.2", "direction.002"], "unknown tensor")],
)
def test_two_tensors_for_one_block_are_not_merged(names, msg, tmp_path):
    import gguf

    path = tmp_path / "cv.gguf"
    w = gguf.GGUFWriter(str(path), "controlvector")
    w.add_string("controlvector.model_hint", "llama")
    w.add_uint32("controlvector.layer_count", len(names))
    for k, n in enumerate(names):
        w.add_tensor(n, np.full(64, k + 1, dtype=np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    with pytest.raises(ControlVectorError, match=msg):
        read_control_vector(path, 4, 64)
