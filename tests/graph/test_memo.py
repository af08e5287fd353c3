"""What the engine keeps between runs of a query answers only for the object it was built
from, and never grows past its limit."""

from __future__ import annotations

from upkeep.graph.memo import IdentityMemo


def test_a_kept_value_answers_only_for_its_own_object() -> None:
    memo: IdentityMemo[str] = IdentityMemo(limit=8)
    first, second = object(), object()
    memo.put(first, "sqlite", "plan")
    assert memo.get(first, "sqlite") == "plan"
    assert memo.get(first, "postgresql") is None
    assert memo.get(second, "sqlite") is None


def test_a_full_memo_starts_again_rather_than_growing() -> None:
    memo: IdentityMemo[int] = IdentityMemo(limit=3)
    owners = [object() for _ in range(4)]
    for index, owner in enumerate(owners):
        memo.put(owner, None, index)
    assert len(memo) == 1
    assert memo.get(owners[3], None) == 3
