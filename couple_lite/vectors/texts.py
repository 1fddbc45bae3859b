"""The texts value directions are extracted from, written for this project (``data/texts_<system>.json``,
``data/pairs_<system>.json``, ``data/texts_confounds.json``), and a user's own (``load_texts``).

- **context pairs**: the same question and framing; the answer honours the value or does not
  (as in ConVA). The hidden state is the mean over the answer's tokens.
- **varied pairs** (``data/pairs_<system>.json``): many questions, registers (advice, self-description,
  stories, opinions, choices) and situations per value; the positive answer honours the value, the
  negative one answers the same question plainly, driven by no value (not by the opposite one), so
  a direction is what the value adds to an answer. ``all`` is both sets.
- **persona pairs**: a system prompt "you deeply value X (definition)" vs "you do not care about X",
  then a neutral question; the hidden state is the last prompt token. This is the naive baseline.
- **confound pairs**: agreeing vs disagreeing, positive vs negative tone, long vs short answers;
  their directions are projected out of every value direction.

Splits are by behaviour (every fourth pair of a value is held out), never by framing, so a
held-out pair never shares its sentence with a training pair.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

from .._data import has_data, read_json
from ..errors import ValueSystemError
from ..values import ValueSystem

__all__ = [
    "Pair",
    "PairKind",
    "QUESTIONS",
    "value_pairs",
    "has_varied_pairs",
    "confound_pairs",
    "load_texts",
    "PAIR_KINDS",
    "HOLD_OUT_EVERY",
    "MIN_PAIRS",
    "MIN_ITEMS",
]

PairKind = Literal["context", "varied", "all", "persona"]
PAIR_KINDS: tuple[str, ...] = get_args(PairKind)

# neutral questions that frame an answer as the model's own account of itself
QUESTIONS = (
    "What did you do recently?",
    "Tell me about a choice you made this week.",
    "How did you handle the situation?",
    "What is something you did that says a lot about you?",
)
HOLD_OUT_EVERY = 4  # every fourth behaviour of a value is held out: ~25% for accuracy, none ever trained on
_PERSONA = (
    (
        "You are someone who deeply values {name}: {definition}",
        "You are someone who does not care about {name} at all.",
    ),
    ("{Name} is one of the most important things in your life ({definition})", "{Name} means nothing to you."),
    ("You always act out of {name}. {definition}", "You never act out of {name}."),
    ("Your highest priority is {name}.", "Your lowest priority is {name}."),
)


@dataclass(frozen=True)
class Pair:
    """One contrast: ``positive`` honours the value, ``negative`` does not; the same ``question``
    (and ``system`` prompt for persona pairs) frames both. ``answer`` texts are scored over their
    tokens; persona pairs have empty answers and are scored at the last prompt token."""

    value: str
    question: str
    positive: str
    negative: str
    held_out: bool
    kind: str = "context"
    system_pos: str | None = None
    system_neg: str | None = None


def _texts(system: str) -> dict:
    if not has_data(f"texts_{system}.json"):
        raise ValueSystemError(
            f"no contrastive texts ship for value system {system!r}; built-in systems have them "
            f"(schwartz10, schwartz19, moral_foundations)"
        )
    texts: dict = read_json(f"texts_{system}.json")
    return texts


def _varied(system: str) -> dict:
    if not has_data(f"pairs_{system}.json"):
        raise ValueSystemError(
            f"no varied pairs ship for value system {system!r} (schwartz10 and moral_foundations "
            "have them); use --pairs context"
        )
    pairs: dict = read_json(f"pairs_{system}.json")["pairs"]
    return pairs


def _varied_pairs(system: ValueSystem, value: str) -> list[Pair]:
    """A value's varied pairs; within each register every HOLD_OUT_EVERY-th is held out."""
    seen: dict[str, int] = {}
    out = []
    for e in _varied(system.name)[value]:
        k = seen[e["register"]] = seen.get(e["register"], -1) + 1
        out.append(
            Pair(value, e["question"], e["positive"], e["neutral"], held_out=k % HOLD_OUT_EVERY == HOLD_OUT_EVERY - 1)
        )
    return out


def has_varied_pairs(system: ValueSystem) -> bool:
    """Whether varied pairs ship for ``system`` (``--pairs varied|all``)."""
    return has_data(f"pairs_{system.name}.json")


def value_pairs(system: ValueSystem, kind: PairKind = "context", texts: dict | None = None) -> dict[str, list[Pair]]:
    """Pairs per value, in system order, each tagged train or held out; ``texts`` (from
    :func:`load_texts`) replaces the shipped context pairs with a user's."""
    if kind not in PAIR_KINDS:
        raise ValueSystemError(f"unknown pair kind {kind!r}; use one of {', '.join(PAIR_KINDS)}")
    if texts is not None and kind != "context":
        raise ValueSystemError(f"your own texts are context pairs; use --pairs context, not {kind!r}")
    out: dict[str, list[Pair]] = {}
    for v in system.values:
        pairs: list[Pair] = _varied_pairs(system, v.name) if kind in ("varied", "all") else []
        if kind in ("context", "all"):
            for k, (pos, neg) in enumerate((texts or _texts(system.name))["pairs"][v.name]):
                n_q = len(QUESTIONS)  # two framings per behaviour, cycling through the questions
                for q in (QUESTIONS[k % n_q], QUESTIONS[(k + 1) % n_q]):
                    pairs.append(Pair(v.name, q, pos, neg, held_out=k % HOLD_OUT_EVERY == HOLD_OUT_EVERY - 1))
        elif kind == "persona":
            label = v.name.replace("_", " ")
            d = v.definition.rstrip(".").lower()
            for k, (pos, neg) in enumerate(_PERSONA):
                fmt = dict(name=label, Name=label.capitalize(), definition=d)
                for q in QUESTIONS:
                    pairs.append(
                        Pair(
                            v.name,
                            q,
                            "",
                            "",
                            held_out=k == len(_PERSONA) - 1,
                            kind="persona",
                            system_pos=pos.format(**fmt),
                            system_neg=neg.format(**fmt),
                        )
                    )
        out[v.name] = pairs
    return out


def confound_pairs() -> dict[str, list[Pair]]:
    """Pairs for the confounds to remove: 'agree', 'tone', 'length' (all used for training)."""
    raw = read_json("texts_confounds.json")
    return {
        name: [Pair(name, QUESTIONS[k % len(QUESTIONS)], pos, neg, held_out=False) for k, (pos, neg) in enumerate(rows)]
        for name, rows in raw.items()
    }


MIN_PAIRS = HOLD_OUT_EVERY  # per value: at least one held out, the rest to extract from
MIN_ITEMS = 2  # per value, for calibration (its cross-validation splits each value's items)
MAX_TEXT = 2000  # characters per text


def load_texts(path: str | Path, system: ValueSystem) -> dict:
    """A user's contrast texts for ``system`` (``extract --texts FILE``), checked: a JSON object
    ``{"pairs": {value: [[positive, negative], ...]}, "items": {value: [item, ...]}}`` with every
    value of the system, at least MIN_PAIRS pairs each (``items``, optional: at least MIN_ITEMS
    first-person statements each, used to calibrate). Any problem: one ValueSystemError line."""
    p = Path(path)
    where = f"texts file {str(p)!r}"
    try:
        raw = json.loads(p.read_bytes().decode("utf-8-sig"))
    except FileNotFoundError:
        raise ValueSystemError(f"{where} not found") from None
    except UnicodeDecodeError:
        raise ValueSystemError(f"{where} is not UTF-8 text; save it as UTF-8 JSON") from None
    except OSError as e:
        raise ValueSystemError(f"{where} cannot be read ({e.strerror}); give a readable JSON file") from None
    except ValueError as e:
        raise ValueSystemError(f"{where} is not valid JSON ({e}); see the guide's example") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("pairs"), dict):
        raise ValueSystemError(f'{where} needs an object with "pairs": {{value: [[positive, negative], ...]}}')

    def texts_of(section: str, value: str, entries, width: int | None) -> list:
        if not isinstance(entries, list):
            raise ValueSystemError(f"{where}: {section}.{value} must be a list")
        out = []
        for k, e in enumerate(entries):
            parts = e if width else [e]
            if width and (not isinstance(e, list) or len(e) != width):
                raise ValueSystemError(f"{where}: {section}.{value}[{k}] must be [positive, negative]")
            if not all(isinstance(t, str) and t.strip() and len(t) <= MAX_TEXT for t in parts):
                raise ValueSystemError(
                    f"{where}: {section}.{value}[{k}] needs non-empty texts of at most {MAX_TEXT} characters"
                )
            if width and parts[0].strip() == parts[1].strip():
                raise ValueSystemError(f"{where}: {section}.{value}[{k}] has the same text on both sides")
            out.append([t.strip() for t in parts] if width else parts[0].strip())
        return out

    out: dict = {"pairs": {}, "items": {}}
    for section, width, least in (("pairs", 2, MIN_PAIRS), ("items", None, MIN_ITEMS)):
        given = raw.get(section)
        if given is None and section == "items":
            out["items"] = None
            continue
        if not isinstance(given, dict):
            raise ValueSystemError(f'{where}: "{section}" must be an object {{value: [...]}}')
        unknown = [k for k in given if k not in system.names]
        if unknown:
            raise ValueSystemError(
                f"{where}: {section} names {', '.join(map(repr, unknown))}, not values of "
                f"{system.name!r} ({', '.join(system.names)})"
            )
        for v in system.names:
            got = texts_of(section, v, given.get(v, []), width)
            if len(got) < least:
                raise ValueSystemError(f"{where}: {section}.{v} has {len(got)} entries; give at least {least}")
            out[section][v] = got
    return out
