"""Check digits of the identifier formats that carry one: Luhn (bank cards), GB 11643 (Chinese ID), ISO 13616."""

from __future__ import annotations

__all__ = ["cn_id_check_ok", "iban_ok", "luhn_ok"]

_CN_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CN_ID_CHECK = "10X98765432"


def luhn_ok(digits: str) -> bool:
    """The Luhn check over a string of digits (payment card numbers)."""
    if not digits.isdigit():
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def cn_id_check_ok(number: str) -> bool:
    """GB 11643 check digit of an 18-character resident ID. A failure lowers confidence; it never clears a number,
    because many real-looking numbers in everyday data were typed or copied with one digit wrong."""
    if len(number) != 18 or not number[:17].isdigit():
        return False
    total = sum((ord(c) - 48) * w for c, w in zip(number[:17], _CN_ID_WEIGHTS, strict=True))
    return _CN_ID_CHECK[total % 11] == number[17].upper()


def iban_ok(iban: str) -> bool:
    """ISO 13616 mod-97 check of an IBAN written with or without spaces."""
    compact = iban.replace(" ", "").upper()
    if not 15 <= len(compact) <= 34 or not compact.isalnum():
        return False
    moved = compact[4:] + compact[:4]
    numeric = "".join(str(int(ch, 36)) for ch in moved)
    return int(numeric) % 97 == 1
