"""Day-ahead windows: "a run of H consecutive hours, any time between FROM:00 and TO:00".

The exchange takes a block's alternatives, each a (product, start hour) with its limit;
a window is the buyer's way to write many of them at once. :func:`window_alternatives`
expands products and a window into one alternative per product and feasible start.

Each delivery day is cleared by its own auction over its hours 0..23, so a run never
crosses midnight, and a window is read on the delivery day's own clock: ``FROM-TO``
with FROM < TO covers hours FROM..TO-1; one that wraps midnight (FROM > TO, such as
``20-08``) covers the day's hours FROM..23 and 0..TO-1 -- the end of the night before
the day and the start of the night after it. A run must fit inside one of those parts:
``20-08`` with 6 hours starts at 0, 1 or 2 (hours 20..23 hold only 4). For the whole
night from day D into D+1, submit its evening part to D and its morning part to D+1.
"""

from __future__ import annotations

import re

DAY_HOURS = 24
"""Delivery hours of a day, 0..23 (market time)."""
_WINDOW = re.compile(r"^(\d{1,2})-(\d{1,2})$")


def parse_window(text: str) -> tuple[int, int]:
    """``"FROM-TO"`` (hours, market time; TO 24 or 0 is midnight at the day's end) as
    (FROM, TO) with TO in 1..24; ``ValueError`` saying what is wrong otherwise."""
    found = _WINDOW.match(text.strip())
    if not found:
        raise ValueError(f"window {text!r}: write FROM-TO in hours, e.g. 20-08")
    first, end = int(found[1]), int(found[2]) or DAY_HOURS
    if not 0 <= first < DAY_HOURS or not 1 <= end <= DAY_HOURS:
        raise ValueError(f"window {text!r}: FROM must be 0..23 and TO 0..24")
    if first == end:
        raise ValueError(f"window {text!r} is empty: FROM and TO must differ")
    return first, end


def window_starts(window: tuple[int, int], hours: int) -> list[int]:
    """Every start hour of a run of ``hours`` hours inside ``window`` (see the module
    docstring) on one delivery day, ascending; ``ValueError`` if there is none."""
    first, end = window
    inside = set(range(first, end)) if first < end else set(range(first, DAY_HOURS)) | set(range(end))
    starts = [s for s in range(DAY_HOURS - hours + 1) if inside.issuperset(range(s, s + hours))]
    if hours < 1 or not starts:
        raise ValueError(f"window {first:02d}-{end:02d} holds no run of {hours} hours inside one delivery day "
                         "(each day is cleared by its own auction, so a run cannot cross midnight)")
    return starts


def window_alternatives(products: list[tuple[str, str, int]], window: tuple[int, int],
                        hours: int) -> list[tuple[str, str, int, int]]:
    """``(gpu_class, region, limit_fen, start_hour)`` for each product (in the order
    given) and each start of :func:`window_starts`: a block's alternatives."""
    starts = window_starts(window, hours)
    return [(gpu_class, region, limit, start) for gpu_class, region, limit in products for start in starts]
