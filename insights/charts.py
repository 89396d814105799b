"""The geometry of the dashboard's 30-day charts, drawn as inline SVG by the template.

Pure arithmetic on (day, value) pairs: no query, no markup. The template writes the labels
(money and dates formatted for the reader's language) at the positions given here.
"""

import math
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

#: The drawing's own units (viewBox); the SVG scales to its box, so these only set the
#: proportions: wide enough for 30 bars with gaps, low enough to sit beside its table.
WIDTH, HEIGHT = 720, 240
LEFT, RIGHT, TOP, BOTTOM = 100, 36, 16, 40
#: Label every fifth day (and the last): more would overlap at phone width.
LABEL_EVERY = 5


@dataclass(frozen=True)
class Mark:
    """One day: its bar (x, y, width, height) or its point (cx, cy), and its value."""

    day: date
    value: Decimal | int
    x: float
    y: float
    width: float
    height: float

    @property
    def cx(self) -> float:
        return round(self.x + self.width / 2, 1)

    @property
    def point(self) -> tuple[float, float]:
        """The top-left corner of the 6-unit square marking a line chart's point."""
        return (round(self.cx - 3, 1), round(self.y - 3, 1))


@dataclass(frozen=True)
class Tick:
    y: float
    value: Decimal | int


@dataclass
class Chart:
    marks: list[Mark]
    ticks: list[Tick]
    #: Marks whose day is written under the axis.
    labelled: list[Mark]
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    right_edge: int = WIDTH - RIGHT
    baseline: int = HEIGHT - BOTTOM
    label_y: int = HEIGHT - BOTTOM + 28

    @property
    def points(self) -> str:
        """The marks' tops joined, for a line chart's polyline."""
        return " ".join(f"{mark.cx},{mark.y}" for mark in self.marks)


def nice_ceiling(value: Decimal | int, *, whole: bool) -> Decimal:
    """The smallest "round" number (1, 2, 2.5 or 5 times a power of ten) at least `value`,
    so the axis reads 0, half and top in plain figures; whole numbers for counts."""
    if value <= 0:
        return Decimal(2 if whole else 1)
    exponent = math.floor(math.log10(float(value)))
    for step in (1, 2, Decimal("2.5"), 5, 10):
        top = Decimal(step) * Decimal(10) ** exponent
        if top >= value and (not whole or (top == top.to_integral() and top % 2 == 0)):
            return top
    return Decimal(10) ** (exponent + 1) * (2 if whole else 1)


def chart(values: list[tuple[date, Decimal | int]], *, whole: bool = False) -> Chart:
    """Bars (or points) for `values`, oldest first, scaled to a round top value."""
    top = nice_ceiling(max((value for _day, value in values), default=0), whole=whole)
    plot_width = WIDTH - LEFT - RIGHT
    plot_height = HEIGHT - TOP - BOTTOM
    slot = plot_width / max(len(values), 1)
    marks = []
    for index, (day, value) in enumerate(values):
        height = round(float(Decimal(value) / top) * plot_height, 1)
        marks.append(
            Mark(
                day=day,
                value=value,
                x=round(LEFT + index * slot + slot * 0.15, 1),
                y=round(HEIGHT - BOTTOM - height, 1),
                width=round(slot * 0.7, 1),
                height=height,
            )
        )
    half = top / 2
    ticks = [
        Tick(y=HEIGHT - BOTTOM, value=0),
        Tick(y=round(HEIGHT - BOTTOM - plot_height / 2, 1), value=int(half) if whole else half),
        Tick(y=TOP, value=int(top) if whole else top),
    ]
    last = len(marks) - 1
    labelled = [mark for index, mark in enumerate(marks) if (last - index) % LABEL_EVERY == 0]
    return Chart(marks=marks, ticks=ticks, labelled=labelled)
