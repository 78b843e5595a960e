"""Rows linked by an id or an address, directly or through others, land in one chunk."""

from __future__ import annotations

from rung.account_groups import AccountGroups


def test_rows_sharing_a_key_directly_or_through_others_share_a_chunk() -> None:
    groups = AccountGroups()
    groups.add(2, ["id:A", "sms:+1206", "email:a@x"])
    groups.add(3, ["id:B", "sms:+1999"])
    groups.add(4, ["id:C", "email:a@x"])  # with row 2 by its email
    groups.add(5, ["id:D", "sms:+1999", "email:d@x"])  # with row 3 by its phone
    groups.add(6, ["id:A"])  # a duplicate id: intake must see both rows
    groups.add(7, ["id:E"])

    chunks = groups.chunks(size=1)

    assert chunks[2] == chunks[4] == chunks[6]
    assert chunks[3] == chunks[5]
    assert len({chunks[2], chunks[3], chunks[7]}) == 3  # unlinked groups apart at size 1
    assert groups.chunk_of("email:d@x") == chunks[3]
    assert groups.chunk_of("sms:+1000") is None


def test_groups_are_packed_whole_in_file_order_up_to_the_size() -> None:
    groups = AccountGroups()
    for line in range(2, 12):
        groups.add(line, [f"id:{line}"])
    groups.add(12, ["id:12", "sms:+1"])
    groups.add(13, ["id:13", "sms:+1"])

    chunks = groups.chunks(size=4)

    assert [chunks[line] for line in range(2, 14)] == [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2]


def test_a_group_larger_than_the_size_is_a_chunk_of_its_own() -> None:
    groups = AccountGroups()
    groups.add(2, ["id:X"])
    for line in range(3, 9):
        groups.add(line, [f"id:{line}", "email:shared@x"])
    groups.add(9, ["id:Y"])

    chunks = groups.chunks(size=3)

    assert chunks[2] == 0
    assert {chunks[line] for line in range(3, 9)} == {1}
    assert chunks[9] == 2


def test_a_row_with_no_key_is_a_group_of_its_own() -> None:
    groups = AccountGroups()
    groups.add(2, [""])
    groups.add(3, [])

    assert groups.chunks(size=1) == {2: 0, 3: 1}
