"""Cron schedules as Kubernetes CronJobs accept them (the robfig/cron standard parser).

Five fields (minute hour day-of-month month day-of-week) or one of the macros. Time zones
go in a separate field: Kubernetes rejects `TZ=` and `CRON_TZ=` inside the schedule.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator

MACROS = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")

_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


class _Field:
    def __init__(self, name: str, low: int, high: int, names: tuple[str, ...] = ()) -> None:
        self.name = name
        self.low = low
        self.high = high
        self.names = {label: index + low for index, label in enumerate(names)}

    def value(self, text: str) -> int:
        number = self.names.get(text.lower())
        if number is None:
            if not text.isdigit():
                raise ValueError(f"{self.name}: {text!r} is not a number")
            number = int(text)
        if not self.low <= number <= self.high:
            raise ValueError(f"{self.name}: {number} is outside {self.low}-{self.high}")
        return number

    def check(self, text: str) -> None:
        for item in text.split(","):
            span, _, step = item.partition("/")
            if step and (not step.isdigit() or int(step) == 0):
                raise ValueError(f"{self.name}: step {step!r} must be a positive number")
            if span in ("*", "?"):
                if span == "?" and self.name not in ("day of month", "day of week"):
                    raise ValueError(f"{self.name}: '?' is only allowed for the days")
                continue
            first, _, last = span.partition("-")
            start = self.value(first)
            if last and self.value(last) < start:
                raise ValueError(f"{self.name}: range {span!r} runs backwards")


_FIELDS = (
    _Field("minute", 0, 59),
    _Field("hour", 0, 23),
    _Field("day of month", 1, 31),
    _Field("month", 1, 12, _MONTHS),
    _Field("day of week", 0, 6, _DAYS),
)


def check_cron(value: str) -> str:
    """`value` unchanged if Kubernetes accepts it as a CronJob schedule, else ValueError."""
    text = value.strip()
    if re.match(r"^(CRON_)?TZ=", text):
        raise ValueError("put the time zone in `time_zone`, not in the schedule")
    if text.startswith("@"):
        if text not in MACROS:
            raise ValueError(f"{value!r} is not a cron macro; allowed: {', '.join(MACROS)}")
        return text
    parts = text.split()
    if len(parts) != len(_FIELDS):
        raise ValueError(
            f"{value!r} is not a cron schedule: use 5 fields (minute hour day-of-month "
            f"month day-of-week, e.g. '0 3 * * *') or one of {', '.join(MACROS)}"
        )
    for field, part in zip(_FIELDS, parts, strict=True):
        try:
            field.check(part)
        except ValueError as error:
            raise ValueError(f"{value!r} is not a valid cron schedule: {error}") from None
    return " ".join(parts)


CronSchedule = Annotated[str, AfterValidator(check_cron)]
"""A Kubernetes CronJob schedule, e.g. `0 3 * * *`, `*/15 * * * *` or `@daily`."""
