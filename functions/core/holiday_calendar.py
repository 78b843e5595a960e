"""Public holidays as blackout days, from the maintained `holidays` library.

A profile names a country calendar and, optionally, subdivisions (a US state, the nations of
the UK); their union is the calendar. Dates come from the library, never from a list kept
here: China's State Council publishes each year's arrangement (days off moved onto weekdays,
weekend days made working days), which the library tracks.

The library is imported when a calendar is first built, not with this module: importing it
and building its first country calendar is most of a fresh process's first gate decision,
and a process that never loads the contact profiles does not pay for it.
"""

from __future__ import annotations

from datetime import date
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from holidays import HolidayBase

NAMES_LANGUAGE = "en_US"


class UnknownCalendar(ValueError):
    """The `holidays` library has no calendar for this country or subdivision."""


class HolidayCalendar:
    """Holidays of one country (and subdivisions), queried by local date.

    Years are filled in on first use (the library's `expand`), so any date works. Equal by
    (country, subdivisions): it is part of a hashable `LocalWindow`.
    """

    __slots__ = ("_calendars", "country", "subdivisions")

    def __init__(self, country: str, subdivisions: tuple[str, ...] = ()) -> None:
        self.country = country
        self.subdivisions = subdivisions
        import holidays

        try:
            self._calendars: tuple[HolidayBase, ...] = tuple(
                # Names in English whatever the machine's locale (China's default is zh_CN).
                holidays.country_holidays(country, subdiv=subdivision, language=NAMES_LANGUAGE)
                for subdivision in (subdivisions or (None,))
            )
        except NotImplementedError as exc:
            raise UnknownCalendar(str(exc)) from exc

    def holiday(self, day: date) -> str | None:
        """The holiday's name on local date `day` (the first calendar that has one), else None."""
        for calendar in self._calendars:
            name = calendar.get(day)
            if name:
                return str(name)
        return None

    def is_adjusted_working_day(self, day: date) -> bool:
        """A weekend day the calendar makes a working day (China's 调休), which a profile that
        blocks weekends must treat as a working day."""
        for calendar in self._calendars:
            calendar.get(day)  # fills in the year's arrangement
            if day in calendar.weekend_workdays:
                return True
        return False

    @property
    def label(self) -> str:
        return "-".join((self.country, *self.subdivisions))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, HolidayCalendar) and (self.country, self.subdivisions) == (
            other.country,
            other.subdivisions,
        )

    def __hash__(self) -> int:
        return hash((self.country, self.subdivisions))

    def __repr__(self) -> str:
        return f"HolidayCalendar({self.label})"


@cache
def holiday_calendar(country: str, subdivisions: tuple[str, ...] = ()) -> HolidayCalendar:
    """One shared calendar per (country, subdivisions): the library's tables are built once."""
    return HolidayCalendar(country, subdivisions)
