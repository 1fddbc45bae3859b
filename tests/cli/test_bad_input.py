"""Bad input is one typed error, never a traceback:
item CSVs, objective files and strings, priorities, value-system files, the model cache folder."""

from __future__ import annotations

import json
import string

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from cli import main
from couple_lite.errors import CoupleError, DownloadError, ObjectiveError, ValueSystemError
from couple_lite.measure.instruments import load_items
from couple_lite.values.objective import load_objective, make_objective
from couple_lite.values.systems import load_value_system

SCHWARTZ = load_value_system("schwartz10")

CSV_CASES = {
    "agreement abc": (b"item,value,agreement\nI like power,power,abc\n", "agreement"),
    "agreement nan": (b"item,value,agreement\nI like power,power,nan\n", "agreement"),
    "agreement inf": (b"item,value,agreement\nI like power,power,inf\n", "agreement"),
    "short row": (b"item,value\nshort\n", "line 2"),
    "binary": (bytes(range(256)), "not UTF-8"),
    "huge cell": (b"item,value\n" + b"x" * 140_000 + b",power\n", "not a valid CSV"),
    "no columns": (b"a,b\n1,2\n", "columns"),
}


@pytest.mark.parametrize("case", sorted(CSV_CASES))
def test_bad_item_csvs_are_one_clear_error(case, tmp_path):
    data, msg = CSV_CASES[case]
    path = tmp_path / "items.csv"
    path.write_bytes(data)
    with pytest.raises(CoupleError, match=msg):
        load_items(SCHWARTZ, path)
    r = CliRunner().invoke(main, ["measure", "--items", str(path)])
    assert r.exit_code == 2 and "Traceback" not in r.output


def test_a_utf8_bom_and_a_minus_one_agreement_are_fine(tmp_path):
    path = tmp_path / "items.csv"
    path.write_bytes("\ufeffitem,value,agreement\nI like power,power,-1\n".encode("utf-8"))
    items, skipped = load_items(SCHWARTZ, path)
    assert (items[0].value, items[0].agreement, skipped) == ("power", -1, 0)


OBJECTIVE_CASES = {
    "null level": ('{"targets": {"power": null}}', "utf-8", "level of 'power'"),
    "bool level": ('{"targets": {"power": true}}', "utf-8", "level of 'power'"),
    "list level": ('{"targets": {"power": [6]}}', "utf-8", "level of 'power'"),
    "priority list": ('{"targets": {"power": 6}, "priority": ["power"]}', "utf-8", "priority must be"),
    "priority number": ('{"targets": {"power": 6}, "priority": 5}', "utf-8", "priority must be"),
    "priority weight bool": ('{"targets": {"power": 6}, "priority": {"power": true}}', "utf-8", "not a number"),
    "utf-16": ('{"targets": {"power": 6}}', "utf-16", "not UTF-8"),
}


@pytest.mark.parametrize("case", sorted(OBJECTIVE_CASES))
def test_bad_objective_files_are_one_clear_error(case, tmp_path):
    text, enc, msg = OBJECTIVE_CASES[case]
    path = tmp_path / "o.json"
    path.write_bytes(text.encode(enc))
    with pytest.raises(ObjectiveError, match=msg):
        load_objective(path)
    r = CliRunner().invoke(main, ["explain", "--objective", str(path)])
    assert r.exit_code == 2 and msg.split("'")[0] in r.output


def test_binary_and_directory_objectives(tmp_path):
    (tmp_path / "b.json").write_bytes(bytes(range(128, 256)))
    with pytest.raises(ObjectiveError, match="not UTF-8"):
        load_objective(tmp_path / "b.json")
    with pytest.raises(ObjectiveError, match="cannot be read"):
        load_objective(tmp_path)


def test_too_many_priority_ranks_is_an_error_not_an_overflow():
    with pytest.raises(ObjectiveError, match="ranks"):
        make_objective("power=6", ">".join(["power"] * 1025))


def test_a_directory_as_value_system_is_one_clear_error(tmp_path):
    with pytest.raises(ValueSystemError, match="cannot be read"):
        load_value_system(tmp_path)
    r = CliRunner().invoke(main, ["explain", "--values", "power=6", "--system", str(tmp_path)])
    assert r.exit_code == 2 and "cannot be read" in r.output


def test_a_model_folder_that_is_a_file_is_one_clear_error(tmp_path, monkeypatch):
    from couple_lite.engine import models as model_store

    blocker = tmp_path / "file"
    blocker.write_text("x")
    monkeypatch.setenv("COUPLE_LITE_MODEL_DIR", str(blocker / "sub"))
    entry = model_store.registry()["smollm2-135m"]
    with pytest.raises(DownloadError, match="COUPLE_LITE_MODEL_DIR"):
        model_store.fetch(entry)


# -- fuzzers: every input loads or raises our typed error -----------------------------------

NAMES = st.sampled_from(SCHWARTZ.names + ["Power", "self-direction", "nope", ""])
LEVELS = st.one_of(st.integers(-3, 9), st.floats(allow_nan=True), st.sampled_from(["high", "low", "x", ""]))


@settings(max_examples=200)
@given(st.text(alphabet=string.printable, max_size=80), st.one_of(st.none(), st.text(string.printable, max_size=40)))
def test_fuzz_objective_strings(values, priority):
    try:
        make_objective(values, priority)
    except CoupleError:
        pass


@settings(max_examples=200)
@given(
    st.recursive(
        st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=10)),
        lambda c: st.one_of(st.lists(c, max_size=3), st.dictionaries(st.text(max_size=8), c, max_size=3)),
        max_leaves=8,
    ),
    st.dictionaries(NAMES, LEVELS, max_size=4),
)
def test_fuzz_objective_files(junk, targets):
    import tempfile
    from pathlib import Path

    for raw in (junk, {"targets": targets, "priority": junk}):
        with tempfile.TemporaryDirectory() as d:
            path = Path(d) / "o.json"
            path.write_text(json.dumps(raw), encoding="utf-8")
            try:
                load_objective(path)
            except CoupleError:
                pass


@settings(max_examples=150)
@given(
    st.recursive(
        st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=10)),
        lambda c: st.one_of(
            st.lists(c, max_size=3),
            st.dictionaries(
                st.sampled_from(
                    [
                        "name",
                        "values",
                        "definition",
                        "angle",
                        "correlations",
                        "edges",
                        "order",
                        "mean",
                        "sd",
                        "circumplex",
                        "aliases",
                    ]
                ),
                c,
                max_size=4,
            ),
        ),
        max_leaves=10,
    )
)
def test_fuzz_value_system_json(raw):
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "mine.json"
        path.write_text(json.dumps(raw), encoding="utf-8")
        try:
            vs = load_value_system(path)
            make_objective(f"{vs.names[0]}=6", system=vs)
        except CoupleError:
            pass


@settings(max_examples=200)
@given(st.lists(st.lists(st.text(max_size=12), max_size=4), max_size=5), st.booleans())
def test_fuzz_item_csvs(rows, header):
    import csv
    import io
    import tempfile
    from pathlib import Path

    buf = io.StringIO()
    w = csv.writer(buf)
    if header:
        w.writerow(["item", "value", "agreement"])
    w.writerows(rows)
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "i.csv"
        path.write_text(buf.getvalue(), encoding="utf-8")
        try:
            load_items(SCHWARTZ, path)
        except CoupleError:
            pass


@settings(max_examples=150)
@given(st.binary(min_size=1, max_size=32), st.integers(min_value=0, max_value=10**5))
def test_fuzz_control_vector_files(junk, at):
    import tempfile
    from pathlib import Path

    import numpy as np

    from couple_lite.engine.control_vector import read_control_vector, write_control_vector

    v = np.zeros((4, 64), dtype=np.float32)
    v[1:] = 0.5
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "cv.gguf"
        write_control_vector(path, v, "m")
        raw = bytearray(path.read_bytes())
        at %= len(raw)
        raw[at : at + len(junk)] = junk
        path.write_bytes(bytes(raw))
        try:
            read_control_vector(path, 4, 64)
        except CoupleError:
            pass
