"""Contrastive texts for value directions, written for this project (``data/texts_<system>.json``).

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
from functools import lru_cache
from pathlib import Path
from typing import Literal, get_args

from .errors import ValueSystemError
from .values import ValueSystem

__all__ = ["Pair", "QUESTIONS", "value_pairs", "confound_pairs", "builtin_items", "PAIR_KINDS", "HOLD_OUT_EVERY"]

_DATA = Path(__file__).parent / "data"
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
    ("You are someone who deeply values {name}: {definition}", "You are someone who does not care about {name} at all."),
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


@lru_cache(maxsize=None)
def _texts(system: str) -> dict:
    path = _DATA / f"texts_{system}.json"
    if not path.exists():
        raise ValueSystemError(
            f"no contrastive texts ship for value system {system!r}; built-in systems have them "
            f"(schwartz10, schwartz19, moral_foundations)"
        )
    return json.loads(path.read_text(encoding="utf-8"))


@lru_cache(maxsize=None)
def _varied(system: str) -> dict:
    path = _DATA / f"pairs_{system}.json"
    if not path.exists():
        raise ValueSystemError(f"no varied pairs ship for value system {system!r} (only schwartz10); use --pairs context")
    return json.loads(path.read_text(encoding="utf-8"))["pairs"]


def _varied_pairs(system: ValueSystem, value: str) -> list[Pair]:
    """A value's varied pairs; within each register every HOLD_OUT_EVERY-th is held out."""
    seen: dict[str, int] = {}
    out = []
    for e in _varied(system.name)[value]:
        k = seen[e["register"]] = seen.get(e["register"], -1) + 1
        out.append(Pair(value, e["question"], e["positive"], e["neutral"],
                        held_out=k % HOLD_OUT_EVERY == HOLD_OUT_EVERY - 1))
    return out


def value_pairs(system: ValueSystem, kind: PairKind = "context") -> dict[str, list[Pair]]:
    """Pairs per value, in system order, each tagged train or held out."""
    if kind not in PAIR_KINDS:
        raise ValueSystemError(f"unknown pair kind {kind!r}; use one of {', '.join(PAIR_KINDS)}")
    out: dict[str, list[Pair]] = {}
    for v in system.values:
        pairs: list[Pair] = _varied_pairs(system, v.name) if kind in ("varied", "all") else []
        if kind in ("context", "all"):
            for k, (pos, neg) in enumerate(_texts(system.name)["pairs"][v.name]):
                n_q = len(QUESTIONS)  # two framings per behaviour, cycling through the questions
                for q in (QUESTIONS[k % n_q], QUESTIONS[(k + 1) % n_q]):
                    pairs.append(Pair(v.name, q, pos, neg, held_out=k % HOLD_OUT_EVERY == HOLD_OUT_EVERY - 1))
        elif kind == "persona":
            label = v.name.replace("_", " ")
            d = v.definition.rstrip(".").lower()
            for k, (pos, neg) in enumerate(_PERSONA):
                fmt = dict(name=label, Name=label.capitalize(), definition=d)
                for q in QUESTIONS:
                    pairs.append(Pair(v.name, q, "", "", held_out=k == len(_PERSONA) - 1, kind="persona",
                                      system_pos=pos.format(**fmt), system_neg=neg.format(**fmt)))
        out[v.name] = pairs
    return out


def confound_pairs() -> dict[str, list[Pair]]:
    """Pairs for the confounds to remove: 'agree', 'tone', 'length' (all used for training)."""
    raw = json.loads((_DATA / "texts_confounds.json").read_text(encoding="utf-8"))
    return {
        name: [Pair(name, QUESTIONS[k % len(QUESTIONS)], pos, neg, held_out=False) for k, (pos, neg) in enumerate(rows)]
        for name, rows in raw.items()
    }


def builtin_items(system: str) -> dict[str, list[str]]:
    """Our own first-person questionnaire items per value (agreeing expresses the value)."""
    return _texts(system)["items"]
