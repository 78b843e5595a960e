"""SMS encoding and segment count: what one message costs before it is sent
(docs/user-stories.md, story 13).

GSM 03.38 (3GPP TS 23.038) default alphabet: 7-bit septets, 160 per single message, 153 per
part of a concatenated message (the user-data header takes 7). Characters of the extension
table are sent as ESC + character and cost two septets. Any other character (every Chinese
character, most emoji, U+00A0) forces UCS-2: UTF-16 code units, 70 single / 67 per part;
characters outside the BMP (most emoji) are surrogate pairs and cost two units.

A character never straddles two parts (an ESC pair or a surrogate pair is kept whole), so
the count packs characters greedily rather than dividing the total by the part size.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Encoding = Literal["GSM-7", "UCS-2"]

# 3GPP TS 23.038 §6.2.1 default alphabet (ESC, 0x1B, is the extension escape, not a character).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# §6.2.1.1 extension table: each costs ESC + the character, two septets.
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")

# (single-message capacity, per-part capacity of a concatenated message), in units.
CAPACITY: dict[Encoding, tuple[int, int]] = {"GSM-7": (160, 153), "UCS-2": (70, 67)}


@dataclass(frozen=True)
class SegmentInfo:
    encoding: Encoding
    units: int  # GSM-7 septets or UTF-16 code units
    segments: int


_GSM7_ALL = GSM7_BASIC | GSM7_EXTENSION


def encoding_of(text: str) -> Encoding:
    """GSM-7 when every character is in the basic or extension table, else UCS-2."""
    return "GSM-7" if _GSM7_ALL.issuperset(text) else "UCS-2"


def _unit_cost(char: str, encoding: Encoding) -> int:
    if encoding == "GSM-7":
        return 2 if char in GSM7_EXTENSION else 1
    return 2 if ord(char) > 0xFFFF else 1  # surrogate pair outside the BMP


def sms_segments(text: str) -> SegmentInfo:
    """Encoding, units and the number of parts `text` is billed as (0 for an empty text)."""
    encoding = encoding_of(text)
    if encoding == "GSM-7":
        units = len(text) + sum(text.count(char) for char in GSM7_EXTENSION)
    else:
        units = len(text.encode("utf-16-le")) // 2
    single, part = CAPACITY[encoding]
    if units == 0:
        return SegmentInfo(encoding, 0, 0)
    if units <= single:
        return SegmentInfo(encoding, units, 1)
    if units == len(text):  # every character costs one unit: nothing can straddle a boundary
        return SegmentInfo(encoding, units, -(-units // part))
    segments, filled = 1, 0
    for char in text:
        cost = _unit_cost(char, encoding)
        if filled + cost > part:
            segments, filled = segments + 1, 0
        filled += cost
    return SegmentInfo(encoding, units, segments)
