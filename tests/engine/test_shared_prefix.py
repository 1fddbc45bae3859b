"""scoring: which sequences share a decoded prefix (pure; exactness is tested in test_engine)."""

from couple_lite.engine._shared_prefix import PREFIX_CELLS, ROW_PADDING, shared_groups


def test_groups_need_two_members_that_begin_with_the_prefix_tokens_and_fit_the_cache():
    heads = {"q": [1, 2, 3], "r": [9]}
    seqs = [
        [1, 2, 3, 4],
        [1, 2, 3, 5, 6],
        [1, 2, 7, 8],
        [1, 2, 3],
        [9, 1],
        [1, 2, 3] + [0] * (PREFIX_CELLS - ROW_PADDING - 2),
        [1, 2, 3] + [0] * (PREFIX_CELLS - ROW_PADDING - 3),
    ]
    prefixes = ["q", "q", "q", "q", "r", "q", "q"]
    # 2: tokens differ at the seam; 3: nothing after the prefix; 4: alone under "r"; 5: one row too long
    assert shared_groups(prefixes, heads, seqs) == {"q": [0, 1, 6]}


def test_no_group_when_every_prefix_is_different():
    heads = {"a": [1], "b": [2]}
    assert shared_groups(["a", "b"], heads, [[1, 5], [2, 5]]) == {}
