"""How the CLI prints what it found: tables with a header row for people, JSON (`--json`) for scripts."""
import json
from typing import Any

from pydantic import BaseModel


def add_json_flag(parser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON, for scripts")


def print_table(rows: list[dict[str, str]], columns: list[str], noun: str, as_json: bool) -> None:
    """One row per item under a header; JSON keeps every key of the rows."""
    if as_json:
        print_json(rows)
        return
    widths = {c: max([len(c)] + [len(r[c]) for r in rows]) for c in columns}
    print("  ".join(c.upper().ljust(widths[c]) for c in columns).rstrip())
    for row in rows:
        print("  ".join(row[c].ljust(widths[c]) for c in columns).rstrip())
    print(f"({len(rows)} {noun}{'s' if len(rows) != 1 else ''})")


def print_json(value: Any) -> None:
    data = value.model_dump(mode="json") if isinstance(value, BaseModel) else value
    print(json.dumps(data, indent=2, ensure_ascii=False, default=str))
