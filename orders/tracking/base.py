"""What every tracking provider offers the shop."""

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol


@dataclass(frozen=True)
class TrackedEvent:
    """One scan of a parcel: when, where, what the carrier said, and the shop's stage."""

    occurred_at: datetime
    description: str
    stage: str
    location: str = ""

    @property
    def fingerprint(self) -> str:
        """The same scan reported twice has the same fingerprint (stage left out: a carrier
        may re-classify a scan it already sent)."""
        text = f"{self.occurred_at.isoformat()}|{self.location}|{self.description}"
        return hashlib.sha256(text.encode()).hexdigest()


class TrackingError(Exception):
    """The carrier could not be asked or refused the question; try again later."""


class TrackingProvider(Protocol):
    #: How long to wait before asking about the same parcel again.
    poll_every: timedelta
    #: Queries per minute the provider allows (one polling run asks at most this many).
    per_minute: int

    def query(self, shipment, *, now: datetime) -> list[TrackedEvent]:
        """Every scan of the shipment's parcel up to `now`."""

    def subscribe(self, shipment) -> bool:
        """Ask the provider to push the parcel's scans: True if it will (no polling)."""
