"""Plain-text tables for people (the CLI prints these; ``--json`` prints data instead)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["format_table"]


def _cell(x: Any) -> str:
    if isinstance(x, float):
        return f"{x:.2f}"
    return str(x)


def format_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Left-aligned text columns, numbers to two decimals, one header rule."""
    cells = [[_cell(x) for x in r] for r in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    line: Callable[[Sequence[str]], str] = lambda r: "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip()
    return "\n".join([line(headers), line(["-" * w for w in widths]), *map(line, cells)])
