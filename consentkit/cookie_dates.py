"""The cookie-date algorithm of RFC 6265bis section 5.1.1, apart from the wire formats.

Pure and tolerant like :mod:`.cookies`, which re-exports :func:`parse_cookie_date` and reads
``Expires`` with it; the date grammar is its own small parser, so it lives on its own.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Final

__all__ = ["parse_cookie_date"]

_MONTHS: Final = {
    m: i
    for i, m in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"),
        start=1,
    )
}
_DATE_TOKEN: Final = re.compile(r"[^\x09\x20-\x2f\x3b-\x40\x5b-\x60\x7b-\x7e]+")
_TIME: Final = re.compile(r"([0-9]{1,2}):([0-9]{1,2}):([0-9]{1,2})(?![0-9])")
_DAY: Final = re.compile(r"([0-9]{1,2})(?![0-9])")
_YEAR: Final = re.compile(r"([0-9]{2,4})(?![0-9])")
_STRICT_NUMERIC: Final = re.compile(r"[0-9]{1,2}:[0-9]{1,2}:[0-9]{1,2}|[0-9]{1,4}")


def parse_cookie_date(text: str, *, strict: bool = False) -> datetime | None:
    """Parse an ``Expires`` value with the cookie-date algorithm of RFC 6265bis section 5.1.1.

    The value is split into date-tokens at the delimiters; each token is tried, in this
    order, as the first time (``hh:mm:ss``), day of month, month and year not yet found,
    where a production may be followed by a non-digit and anything after it (``70x`` is a
    year). Two-digit years 70-99 mean 19xx and 00-69 mean 20xx. Returns an aware UTC
    datetime, or ``None`` for anything that is not a valid date (including 31 February).

    With ``strict=True`` a value is only read when no browser could read it differently:
    every token starting with a digit must be a bare time (``hh:mm:ss``) or number, and at
    most one token may look like a time. Browsers differ on the trailing octets the RFC
    allows (Chromium ignores ``1970abc`` as a year), so a date that needs them returns
    ``None``. Never raises.
    """
    time: tuple[int, int, int] | None = None
    day = month = year = None
    for token in _DATE_TOKEN.findall(text):
        if strict and token[0].isdigit():
            if not _STRICT_NUMERIC.fullmatch(token):
                return None
            if time is not None and ":" in token:
                return None
        if time is None and (match := _TIME.match(token)):
            time = (int(match[1]), int(match[2]), int(match[3]))
        elif day is None and (match := _DAY.match(token)):
            day = int(match[1])
        elif month is None and token[:3].lower() in _MONTHS:
            month = _MONTHS[token[:3].lower()]
        elif year is None and (match := _YEAR.match(token)):
            year = int(match[1])
    if time is None or day is None or month is None or year is None:
        return None
    if 70 <= year <= 99:
        year += 1900
    elif 0 <= year <= 69:
        year += 2000
    hour, minute, second = time
    if year < 1601 or hour > 23 or minute > 59 or second > 59:
        return None
    try:
        return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except ValueError:
        return None
