"""Counts in words."""

from betas.wording import plural


def test_a_count_takes_the_singular_only_for_exactly_one():
    assert plural(1, "member") == "1 member"
    assert [plural(n, "member") for n in (0, 3)] == ["0 members", "3 members"]
    assert plural(1204, "account") == "1,204 accounts"
    assert plural(2, "reply", "replies") == "2 replies"
