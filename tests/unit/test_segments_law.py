"""What a borrower's SMS costs at the part boundaries (functions/core/segments.py): the count the
lint warns on and the audit records must be what the operator bills, to the last part.
"""

from __future__ import annotations

import pytest

from functions.core.segments import encoding_of, sms_segments


def test_segments_extension_pair_that_exactly_fills_a_part_stays_in_it() -> None:
    # 151 septets + ESC € = 153: part one is exactly full, the rest fits in part two
    info = sms_segments("a" * 151 + "€" + "a" * 153)
    assert (info.encoding, info.units, info.segments) == ("GSM-7", 306, 2)


def test_segments_surrogate_pair_that_exactly_fills_a_part_stays_in_it() -> None:
    info = sms_segments("a" * 65 + "😀" + "a" * 67)
    assert (info.encoding, info.units, info.segments) == ("UCS-2", 134, 2)


def test_segments_last_character_of_the_basic_plane_costs_one_unit() -> None:
    # U+FFFF is one UTF-16 unit; only characters beyond it are surrogate pairs
    info = sms_segments("\uffff" * 67 + "😀" + "aa")
    assert (info.units, info.segments) == (71, 2)


@pytest.mark.parametrize(
    ("text", "encoding"),
    [("Reply STOP", "GSM-7"), ("€[]{}", "GSM-7"), ("", "GSM-7"), ("“quoted”", "UCS-2")],
)
def test_segments_encoding_is_gsm7_only_when_every_character_is(text: str, encoding: str) -> None:
    assert encoding_of(text) == encoding


def test_segments_extension_characters_count_twice_even_in_a_single_part() -> None:
    info = sms_segments("Pay €10 [ref]")
    assert (info.units, info.segments) == (16, 1)


def test_segments_first_character_beyond_the_basic_plane_is_a_pair() -> None:
    # U+10000 is the first character that UTF-16 writes as a surrogate pair
    info = sms_segments("a" * 66 + "\U00010000" + "a" * 66)
    assert (info.units, info.segments) == (134, 3)


@pytest.mark.parametrize("text", ["你" * 71, "a" * 200, "€" * 90, "Hi 😀"])
def test_segments_counts_are_whole_numbers_as_billed_and_shown(text: str) -> None:
    info = sms_segments(text)
    assert type(info.units) is int and type(info.segments) is int
