"""Printing records for people (a table) and for programs (JSON, JSONL, CSV)."""

from __future__ import annotations

import csv
import io
import json
import re
import sys
import unicodedata
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar

import click

# A cell starting with one of these is a formula to a spreadsheet; feed titles are untrusted.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
F = TypeVar("F", bound=Callable[..., Any])
_RELATIVE = re.compile(r"^(\d+)\s*([mhdw])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def format_options(func: F) -> F:
    """--json / --jsonl / --csv, mutually exclusive; the default is a table."""
    for flag, help_text in (
        ("csv", "CSV (UTF-8 with BOM, opens right in spreadsheets)."),
        ("jsonl", "One JSON object per line."),
        ("json", "A JSON array."),
    ):
        func = click.option(f"--{flag}", "output", flag_value=flag, help=help_text)(func)
    return click.option("--table", "output", flag_value="table", default=True, hidden=True)(func)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    return value


def _jsonable(record: dict[str, Any]) -> dict[str, Any]:
    return {key: _plain(value) for key, value in record.items()}


def _csv_cell(value: Any) -> str:
    """A CSV cell that a spreadsheet shows as text, never evaluates (OWASP CSV injection)."""
    text = _cell(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _cell(value: Any) -> str:
    value = _plain(value)
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        if all(isinstance(v, str) for v in value):
            return ";".join(value)
        return json.dumps(value, ensure_ascii=False, default=_plain)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, default=_plain)
    return str(value)


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    if _width(text) <= limit:
        return text + " " * (limit - _width(text))
    out = ""
    for ch in text:
        if _width(out + ch) > limit - 1:
            break
        out += ch
    return out + "…" + " " * (limit - 1 - _width(out))


def render(records: Sequence[dict[str, Any]], fmt: str, columns: Sequence[tuple[str, int]]) -> str:
    """Records as text. `columns` (name, width) choose the table's columns; width 0 = rest."""
    if fmt == "json":
        return json.dumps([_jsonable(r) for r in records], ensure_ascii=False, indent=2) + "\n"
    if fmt == "jsonl":
        return "".join(json.dumps(_jsonable(r), ensure_ascii=False) + "\n" for r in records)
    if fmt == "csv":
        buffer = io.StringIO()
        names = list(records[0]) if records else [name for name, _ in columns]
        writer = csv.DictWriter(buffer, fieldnames=names, extrasaction="ignore")
        writer.writeheader()
        for record in records:
            writer.writerow({key: _csv_cell(record.get(key)) for key in names})
        return "\ufeff" + buffer.getvalue()
    lines = ["  ".join(_clip(name, width) if width else name for name, width in columns)]
    for record in records:
        cells = []
        for name, width in columns:
            text = _cell(record.get(name))
            cells.append(_clip(text, width) if width else " ".join(text.split()))
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines) + "\n"


def emit(records: Sequence[dict[str, Any]], fmt: str, columns: Sequence[tuple[str, int]]) -> None:
    """Print records; CSV goes out as UTF-8 bytes whatever the terminal's encoding."""
    text = render(records, fmt, columns)
    if fmt == "csv":
        sys.stdout.flush()
        sys.stdout.buffer.write(text.encode("utf-8"))
        sys.stdout.buffer.flush()
    else:
        click.echo(text, nl=False)


class When(click.ParamType[datetime]):
    """A time: ISO date or datetime (UTC unless it says otherwise), or `24h`, `7d`, `2w` ago."""

    name = "when"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, datetime):
            return value
        text = str(value).strip()
        relative = _RELATIVE.match(text)
        if relative:
            amount = int(relative.group(1))
            return datetime.now(UTC) - timedelta(**{_UNITS[relative.group(2)]: amount})
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            self.fail(
                f"{text!r} is not a date (2026-11-30), a time (2026-11-30T08:00) "
                "or an age (24h, 7d, 2w)",
                param,
                ctx,
            )
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
