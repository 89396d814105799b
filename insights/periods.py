"""Periods of whole days in the shop's time zone (settings.TIME_ZONE).

A day runs from local midnight to local midnight, so an order paid at 23:30 in Shanghai
belongs to that day in Shanghai even though it is 15:30 UTC. Days are turned into aware
datetimes with zoneinfo, so a day across a daylight-saving change has its 23 or 25 hours.
"""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone


def shop_zone() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def today(now: datetime | None = None) -> date:
    """The shop's date now."""
    return (now or timezone.now()).astimezone(shop_zone()).date()


def midnight(day: date) -> datetime:
    """The aware instant at which `day` begins in the shop's time zone."""
    return datetime.combine(day, time.min, tzinfo=shop_zone())


@dataclass(frozen=True)
class Period:
    """Whole local days from `first` to `last`, both included."""

    first: date
    last: date

    @classmethod
    def ending(cls, last: date, *, days: int) -> "Period":
        return cls(first=last - timedelta(days=days - 1), last=last)

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    @property
    def start(self) -> datetime:
        return midnight(self.first)

    @property
    def end(self) -> datetime:
        """The instant after the period (excluded): midnight after its last day."""
        return midnight(self.last + timedelta(days=1))

    def previous(self) -> "Period":
        """The period of as many days just before this one."""
        return Period.ending(self.first - timedelta(days=1), days=self.days)

    def dates(self) -> list[date]:
        return [self.first + timedelta(days=n) for n in range(self.days)]
