"""SMS encoding and segment counts (GSM 03.38 / UCS-2), on strings whose answer is known."""

from __future__ import annotations

import pytest

from functions.core.segments import sms_segments


@pytest.mark.parametrize(
    ("text", "encoding", "units", "segments"),
    [
        ("", "GSM-7", 0, 0),
        ("a" * 160, "GSM-7", 160, 1),
        ("a" * 161, "GSM-7", 161, 2),
        ("a" * 306, "GSM-7", 306, 2),
        ("a" * 307, "GSM-7", 307, 3),
        ("€" * 80, "GSM-7", 160, 1),  # extension characters cost two septets
        ("€" * 81, "GSM-7", 162, 2),
        ("[" + "a" * 159, "GSM-7", 161, 2),
        ("{}\\^~|]" + "a" * 146, "GSM-7", 160, 1),
        ("\f" + "a" * 159, "GSM-7", 161, 2),  # form feed is in the extension table
        ("Café Ñandu", "GSM-7", 10, 1),  # é and Ñ are in the basic set
        ("你" * 70, "UCS-2", 70, 1),
        ("你" * 71, "UCS-2", 71, 2),
        ("你" * 134, "UCS-2", 134, 2),
        ("你" * 135, "UCS-2", 135, 3),
        ("Hi 😀", "UCS-2", 5, 1),  # an emoji outside the BMP is two UTF-16 units
        ("😀" * 35, "UCS-2", 70, 1),
        ("😀" + "a" * 69, "UCS-2", 71, 2),
        ("Pay now á", "UCS-2", 9, 1),  # á is not in GSM-7: the whole message goes UCS-2
        ("$10\u00a0due", "UCS-2", 7, 1),  # so is a no-break space
    ],
)
def test_sms_segments_known_strings(text: str, encoding: str, units: int, segments: int) -> None:
    # Given a text whose encoding and length are known / When counted / Then they match
    info = sms_segments(text)
    assert (info.encoding, info.units, info.segments) == (encoding, units, segments)


def test_sms_segments_extension_pair_never_straddles_parts() -> None:
    # Given 306 septets where an ESC+€ pair would sit across the first part boundary
    text = "a" * 152 + "€" + "a" * 152
    # When counted
    info = sms_segments(text)
    # Then the pair moves whole to part two, so three parts are billed, not 306/153 = 2
    assert (info.units, info.segments) == (306, 3)


def test_sms_segments_surrogate_pair_never_straddles_parts() -> None:
    # Given 134 UCS-2 units where an emoji's surrogate pair would straddle the first part
    text = "a" * 66 + "😀" + "a" * 66
    # When counted / Then the pair is kept whole and a third part is needed
    info = sms_segments(text)
    assert (info.encoding, info.units, info.segments) == ("UCS-2", 134, 3)
