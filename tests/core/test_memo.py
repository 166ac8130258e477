"""``Memo``: remembered answers in bounded memory."""

from __future__ import annotations

from consentkit.memo import ABSENT, Memo


def test_remembers_answers_including_none() -> None:
    memo: Memo[str, int | None] = Memo(4)
    assert memo.get("a") is None
    assert memo.get("a", ABSENT) is ABSENT
    assert memo.put("a", None) is None
    assert memo.get("a", ABSENT) is None
    assert memo.put("b", 2) == 2
    assert memo.get("b") == 2
    assert "a" in memo
    assert len(memo) == 2


def test_starts_over_when_full_and_never_grows_past_its_limit() -> None:
    memo: Memo[int, int] = Memo(3)
    for i in range(3):
        memo.put(i, i)
    memo.put(1, 10)  # a key it holds: nothing is forgotten
    assert len(memo) == 3
    assert memo.get(1) == 10
    memo.put(99, 99)  # a new key when full: it starts over
    assert len(memo) == 1
    assert memo.get(0) is None
    for i in range(1000):
        memo.put(i, i)
        assert len(memo) <= 3
    memo.clear()
    assert len(memo) == 0
