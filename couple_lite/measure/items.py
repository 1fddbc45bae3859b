"""Items: first-person statements, each measuring one value (agreeing with it expresses the value,
or its opposite when ``agreement`` is -1). Ours ship per value system (the calibration items of
``data/texts_<system>.json``); an outside questionnaire comes as a CSV file. Also the selection of the
most informative items, once calibration has scored them (``informative_items``)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from pydantic import BaseModel

from .._data import has_data, read_json
from ..errors import CoupleError, ValueNameError, ValueSystemError
from ..values import ValueSystem

__all__ = ["Item", "builtin_items", "load_items", "informative_items"]


class Item(BaseModel):
    text: str
    value: str
    agreement: int = 1  # 1: agreeing expresses the value; -1: agreeing expresses its opposite


def builtin_items(system: str) -> dict[str, list[str]]:
    """Our own first-person questionnaire items per value (agreeing expresses the value)."""
    name = f"texts_{system}.json"
    if not has_data(name):
        raise ValueSystemError(
            f"no calibration items ship for value system {system!r}; built-in systems have them "
            f"(schwartz10, schwartz19, moral_foundations)"
        )
    items: dict[str, list[str]] = read_json(name)["items"]
    return items


def load_items(system: ValueSystem, path: str | Path | None = None) -> tuple[list[Item], int]:
    """Our items for ``system``, or an outside CSV (columns item, value, agreement; value names
    matched leniently). Returns the items and how many CSV rows named values outside the system."""
    if path is None:
        return [Item(text=t, value=v) for v, ts in builtin_items(system.name).items() for t in ts], 0
    p = Path(path)
    try:
        text = p.read_bytes().decode("utf-8-sig")
        rows = list(csv.DictReader(io.StringIO(text, newline="")))
    except FileNotFoundError:
        raise CoupleError(f"items file {str(p)!r} not found") from None
    except UnicodeDecodeError:
        raise CoupleError(f"items file {str(p)!r} is not UTF-8 text; save it as a UTF-8 CSV") from None
    except OSError as e:
        raise CoupleError(f"items file {str(p)!r} cannot be read ({e.strerror}); give a readable CSV file") from None
    except csv.Error as e:
        raise CoupleError(f"items file {str(p)!r} is not a valid CSV ({e}); check its quoting and cell sizes") from None
    if not rows or not {"item", "value"} <= set(rows[0]):
        raise CoupleError(f"items file {str(p)!r} needs the columns item, value (and optionally agreement)")
    items, skipped = [], 0
    for line, r in enumerate(rows, start=2):
        text_, value = r.get("item"), r.get("value")
        if not isinstance(text_, str) or not text_.strip() or not isinstance(value, str):
            raise CoupleError(f"items file {str(p)!r} line {line}: a row needs an item text and a value")
        try:
            name = system.resolve(value)
        except ValueNameError:
            skipped += 1
            continue
        raw = (r.get("agreement") or "1").strip()
        if raw not in ("1", "-1", "+1", "1.0", "-1.0"):
            raise CoupleError(f"items file {str(p)!r} line {line}: agreement {raw[:20]!r} must be 1 or -1")
        items.append(Item(text=text_.strip(), value=name, agreement=1 if float(raw) > 0 else -1))
    if not items:
        raise CoupleError(f"no item in {str(p)!r} names a value of {system.name!r}; check --system")
    return items, skipped


def informative_items(items: list[Item], information: dict[str, float], per_value: int) -> list[Item]:
    """The ``per_value`` most informative items of each value (``information``: item text -> its
    own-value response minus its mean response to the others, from ``calibrate --item-information``),
    in the items' own order."""
    if per_value < 1:
        raise CoupleError(f"--items-budget must be at least 1, got {per_value}")
    unknown = [it.text for it in items if it.text not in information]
    if unknown:
        raise CoupleError(
            f"the pack's item information does not cover {len(unknown)} of these items "
            f"(e.g. {unknown[0]!r}); re-run `couple-lite calibrate --item-information`"
        )
    keep: set[str] = set()
    for v in dict.fromkeys(it.value for it in items):
        mine = sorted((it for it in items if it.value == v), key=lambda it: -information[it.text])
        keep.update(it.text for it in mine[:per_value])
    return [it for it in items if it.text in keep]
