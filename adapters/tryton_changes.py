"""'What changed since a cursor' over Tryton's create/write timestamps, without losing late commits.

Tryton stamps a row with the time its *transaction started* (CURRENT_TIMESTAMP, also on SQLite), so
a transaction that began before our read but commits after it leaves rows stamped earlier than the
newest stamp we saw. Reading on from that newest stamp would miss them. So a cursor holds the newest
stamp seen (`since`, server time) and the keys (products, templates) whose newest change falls in the
`OVERLAP` before it. The next read starts `OVERLAP` before `since` and drops the keys the cursor
already reported unless they changed after `since`: a commit up to `OVERLAP` late is still seen, and
nothing is reported twice without a new change. (Left out: a key already reported whose *late* commit
is stamped no later than `since` — that needs a transaction longer than the gap between two of our
reads, with a second transaction on the same key in between.)

Only server timestamps are compared, never this machine's clock.
"""
import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from adapters.tryton_rpc import TrytonRpc

OVERLAP = dt.timedelta(seconds=30)
"""Longer than the transactions that write stock moves or products in daily work (a sale's confirm or a
shipment ~1–2 s, receiving 500 SKUs in one ~8 s). Each read re-reads the rows stamped within OVERLAP of
the cursor (ids and stamps only): with 2 minutes, a burst of receipts made every read cost ~1.5 s
(measured at 10k SKUs), which is the stock's latency to the stores. A rarer, longer transaction's
moves are caught by the stores' reconciliation."""
EPOCH = dt.datetime(1970, 1, 1)
PAGE = 2000
ALL = {"active_test": False}
_VERSION = "v1"


@dataclass(frozen=True)
class Cursor:
    since: dt.datetime
    seen: frozenset[int] = frozenset()

    def encode(self) -> str:
        return f"{_VERSION}|{self.since.isoformat()}|{_ranges(self.seen)}"

    @classmethod
    def decode(cls, text: str) -> "Cursor":
        try:
            version, since, seen = text.split("|")
            if version != _VERSION:
                raise ValueError(version)
            return cls(dt.datetime.fromisoformat(since), frozenset(_unranges(seen)))
        except ValueError as error:
            raise ValueError(f"not a Tryton change cursor: {text!r}") from error


def changed_domain(since: dt.datetime) -> list:
    return ["OR", [("create_date", ">=", since)], [("write_date", ">=", since)]]


async def changed(
    rpc: TrytonRpc, model: str, key: str, since: dt.datetime, domain: Iterable = ()
) -> dict[int, dt.datetime]:
    """Key → newest create/write stamp over the `model` rows changed at or after `since` (inactive ones too).

    `key` is a field of `model` (`"id"`, `"product"`) or one dotted step further (`"product.template"`).
    """
    head, _, tail = key.partition(".")
    fields = ["create_date", "write_date", key if tail else head]
    keys: dict[int, dt.datetime] = {}
    async for row in pages(rpc, model, [*domain, changed_domain(since)], fields, ALL):
        value = (row[f"{head}."] or {}).get(tail) if tail else row[head]
        if value is not None:
            keys[value] = max(keys.get(value, EPOCH), _stamp(row))
    return keys


async def pages(rpc: TrytonRpc, model: str, domain: list, fields: list[str], context: dict | None = None,
                size: int = PAGE):
    """Every `model` row matching `domain`, read `size` at a time in id order (no offset to drift)."""
    last = 0
    while True:
        page = await rpc.call(model, "search_read", [*domain, ("id", ">", last)], 0, size, [("id", "ASC")], fields,
                              context=context)  # fmt: skip
        for row in page:
            yield row
        if len(page) < size:
            return
        last = page[-1]["id"]


async def latest(rpc: TrytonRpc, model: str, domain: Iterable = ()) -> dt.datetime:
    """The newest create/write stamp of any `model` row (EPOCH if none): where a full read's cursor starts."""
    newest = EPOCH
    for field in ("create_date", "write_date"):
        found = await rpc.call(model, "search_read", [*domain, (field, "!=", None)], 0, 1, [(field, "DESC")],
                               [field], context=ALL)  # fmt: skip
        newest = max([newest, *(row[field] for row in found)])
    return newest


def merge(*changes: dict[int, dt.datetime]) -> dict[int, dt.datetime]:
    merged: dict[int, dt.datetime] = {}
    for change in changes:
        for key, stamp in change.items():
            merged[key] = max(merged.get(key, EPOCH), stamp)
    return merged


def advance(cursor: Cursor | None, window: dict[int, dt.datetime]) -> tuple[set[int], Cursor]:
    """The keys of `window` (changes since `cursor.since - OVERLAP`) to report, and the next cursor."""
    since = cursor.since if cursor else EPOCH
    report = {key for key, stamp in window.items() if cursor is None or key not in cursor.seen or stamp > since}
    newest = max([since, *window.values()])
    seen = frozenset(key for key, stamp in window.items() if stamp > newest - OVERLAP)
    return report, Cursor(newest, seen)


def _stamp(row: dict) -> dt.datetime:
    return max(row["create_date"], row["write_date"] or EPOCH)


def _ranges(ids: frozenset[int]) -> str:
    """1,2,3,7 → "1-3.7": a bulk change touches consecutive ids, so a cursor stays short."""
    runs: list[list[int]] = []
    for value in sorted(ids):
        if runs and value == runs[-1][1] + 1:
            runs[-1][1] = value
        else:
            runs.append([value, value])
    return ".".join(str(a) if a == b else f"{a}-{b}" for a, b in runs)


def _unranges(text: str) -> Iterable[int]:
    for part in filter(None, text.split(".")):
        first, _, last = part.partition("-")
        yield from range(int(first), int(last or first) + 1)
