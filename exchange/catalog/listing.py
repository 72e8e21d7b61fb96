"""Dense engine instrument ids, assigned in listing order, and the rolling listing rule."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import numpy as np

from exchange.catalog.model import NS_PER_HOUR, Catalog, Instrument, format_symbol, slot_from_ts_ns
from exchange.schema import CommandKind, command, commands

_LIST_FIELDS = ("instrument", "gpu_class", "region", "slot_ts")


class Listing:
    """Which instruments are listed, under which engine id (0, 1, 2, ... in listing order).

    The listing is the one place ids come from: :meth:`add` gives the next id and
    returns the ``LIST_INSTRUMENT`` command for it, so the commands must reach the
    engine in the order they were made. Ids are never reused.
    """

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self._instruments: list[Instrument] = []
        self._ids: dict[str, int] = {}
        self._rows: list[list[int]] = []
        """[class index, region index, slot_ts] per id: what :meth:`rows` gives."""
        self._per_slot: dict[int, int] = {}
        """Instruments listed per slot_ts, so :meth:`due` passes over a slot listed whole."""

    def __len__(self) -> int:
        return len(self._instruments)

    def __iter__(self) -> Iterator[Instrument]:
        """Listed instruments in id order."""
        return iter(self._instruments)

    def __contains__(self, item: object) -> bool:
        """Whether a symbol or an :class:`Instrument` is listed."""
        return (self._symbol(item) if isinstance(item, Instrument) else item) in self._ids

    def _symbol(self, item: str | Instrument) -> str:
        """The canonical symbol of an instrument (slot in market time), or item as is."""
        if isinstance(item, Instrument):
            slot = item.slot.astimezone(self.catalog.market.tz)
            return format_symbol(item.gpu_class, item.region, slot)
        return item

    @property
    def next_id(self) -> int:
        """The id the next listed instrument gets."""
        return len(self._instruments)

    def id_of(self, item: str | Instrument) -> int:
        """Engine id of a listed symbol or instrument; ``KeyError`` if not listed."""
        symbol = self._symbol(item)
        try:
            return self._ids[symbol]
        except KeyError:
            raise KeyError(f"{symbol!r} is not listed") from None

    def instrument(self, instrument_id: int) -> Instrument:
        """The instrument listed under an engine id; ``KeyError`` if none."""
        if not 0 <= instrument_id < len(self._instruments):
            raise KeyError(f"no instrument listed with id {instrument_id}")
        return self._instruments[instrument_id]

    def symbol(self, instrument_id: int) -> str:
        """The symbol listed under an engine id."""
        return self.instrument(instrument_id).symbol

    def due(self, now_ns: int) -> list[Instrument]:
        """Instruments that must be listed at ``now_ns`` and are not yet.

        Every slot starting after ``now_ns`` (from the next full hour) up to and
        including ``now_ns + listing_horizon``, for every class and region; ordered by
        slot, then class order, then region order. O(slots) for slots listed whole
        (the rolling listing's usual case: one new slot an hour), plus O(classes x
        regions) for each slot that is not.
        """
        first = (now_ns // NS_PER_HOUR + 1) * NS_PER_HOUR
        last = now_ns + self.catalog.market.listing_horizon_ns
        whole = len(self.catalog.classes) * len(self.catalog.regions)
        tz = self.catalog.market.tz
        due = []
        for slot_ns in range(first, last + 1, NS_PER_HOUR):
            if self._per_slot.get(slot_ns, 0) == whole:
                continue
            slot = slot_from_ts_ns(slot_ns, tz)
            for cls in self.catalog.classes:
                for region in self.catalog.regions:
                    inst = Instrument(cls.name, region.name, slot)  # as Catalog.instrument_at makes it
                    if inst.symbol not in self._ids:
                        due.append(inst)
        return due

    def add(self, item: str | Instrument) -> np.ndarray:
        """List one instrument (or symbol) under the next id; returns its command batch.

        ``ValueError`` if it is already listed; ``SymbolError``/``KeyError`` if the
        catalog does not know it. ``seq`` and ``ts`` are left 0 for the sequencer.
        """
        return command(CommandKind.LIST_INSTRUMENT, **self._register(item))

    def extend(self, listed: list[tuple[int, int, int]]) -> None:
        """List under the next ids, in order, ``(class index, region index, slot_ts)`` per
        instrument, without the command batches of :meth:`add`: what a snapshot says was
        listed, or what the engine acknowledged. ``ValueError`` for an index the catalog
        does not have or a symbol listed twice (those before it stay listed).
        O(instruments), each slot's time made once."""
        tz = self.catalog.market.tz
        classes, regions = self.catalog.classes, self.catalog.regions
        slots: dict[int, datetime] = {}
        for gpu_class, region, slot_ts in listed:  # as Catalog.instrument_at makes them
            if not (0 <= gpu_class < len(classes) and 0 <= region < len(regions)):
                raise ValueError(f"no GPU class {gpu_class} or region {region} in the catalog")
            slot = slots[slot_ts] if slot_ts in slots else slots.setdefault(slot_ts, slot_from_ts_ns(slot_ts, tz))
            inst = Instrument(classes[gpu_class].name, regions[region].name, slot)
            if self._ids.setdefault(inst.symbol, len(self._instruments)) != len(self._instruments):
                raise ValueError(f"{inst.symbol} is already listed as id {self._ids[inst.symbol]}")
            self._instruments.append(inst)
            self._rows.append([gpu_class, region, slot_ts])
            self._per_slot[slot_ts] = self._per_slot.get(slot_ts, 0) + 1

    def rows(self) -> list[list[int]]:
        """``[class index, region index, slot_ts]`` per id, in id order: what a snapshot
        records and :meth:`extend` takes (the rows are shared: not to be changed). A
        copy of a list kept as instruments are listed, so a snapshot costs no
        per-instrument work (~1 µs each otherwise: 10 ms for a listing of ~10,000).
        O(instruments), a reference each."""
        return list(self._rows)

    def list_due(self, now_ns: int) -> np.ndarray:
        """:meth:`add` every instrument :meth:`due` at ``now_ns``; one command batch."""
        rows = [self._register(inst) for inst in self.due(now_ns)]
        batch = commands(len(rows))
        batch["kind"] = int(CommandKind.LIST_INSTRUMENT)
        for name in _LIST_FIELDS:
            batch[name] = [row[name] for row in rows]
        return batch

    def _register(self, item: str | Instrument) -> dict[str, int]:
        """Give ``item`` the next id; the ``LIST_INSTRUMENT`` fields for it."""
        if isinstance(item, str):
            inst = self.catalog.instrument(item)
        else:  # canonical form: known names, slot in market time
            inst = self.catalog.instrument_at(item.gpu_class, item.region, item.slot_ts_ns)
        if inst.symbol in self._ids:
            raise ValueError(f"{inst.symbol} is already listed as id {self._ids[inst.symbol]}")
        row = {
            "instrument": self.next_id,
            "gpu_class": self.catalog.class_index(inst.gpu_class),
            "region": self.catalog.region_index(inst.region),
            "slot_ts": inst.slot_ts_ns,
        }
        self._ids[inst.symbol] = row["instrument"]
        self._instruments.append(inst)
        self._rows.append([row["gpu_class"], row["region"], row["slot_ts"]])
        self._per_slot[row["slot_ts"]] = self._per_slot.get(row["slot_ts"], 0) + 1
        return row
