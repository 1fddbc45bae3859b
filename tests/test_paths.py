"""One resolver for every folder couple-lite reads or writes: environment overrides, else the
checkout's or the per-user folders (platformdirs)."""

from __future__ import annotations

from couple_lite import _paths as paths


def test_computed_caches_follow_couple_lite_cache_else_the_per_user_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("COUPLE_LITE_CACHE", str(tmp_path / "mine"))
    assert paths.cache_dir("refine") == tmp_path / "mine" / "refine"
    monkeypatch.delenv("COUPLE_LITE_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    root = paths.user_cache_root()
    assert paths.cache_dir("gate") == root / "gate" and root.name == "couple-lite"


def test_models_and_computed_caches_share_the_per_user_root(tmp_path, monkeypatch):
    monkeypatch.delenv("COUPLE_LITE_MODEL_DIR", raising=False)
    monkeypatch.setattr(paths, "in_checkout", lambda: False)  # as an installed wheel
    assert paths.model_cache_dir() == paths.user_cache_root() / "models"
    monkeypatch.setenv("COUPLE_LITE_MODEL_DIR", str(tmp_path / "models"))
    assert paths.model_cache_dir() == tmp_path / "models"
