"""The command line: parse, call the library, print (tables for people, ``--json`` for programs).

Owns the commands, each in a small module imported only when the command is named (``COMMANDS``),
so a command's dependencies load for it alone: ``explain`` (explain, systems), ``info``, ``steer``
(steer, export, decide), ``chat``, ``serve``, ``pack`` (pack build), ``extract``, ``calibrate``,
``measure``, ``compare`` and ``evaluate`` (eval). ``_common`` holds what they share (one-line errors,
JSON, progress, the shared options, loading a model and a steerer) and ``_objective`` the steering
commands' objective and options. Every library error becomes one line on stderr and exit status 2.

May import: everything in couple_lite. Nothing imports it (``cli.py`` and ``python -m couple_lite``
call :func:`main`).
"""

from __future__ import annotations

import click

from ._common import LazyGroup

__all__ = ["main", "COMMANDS"]

# command -> "module:attribute" in this package, imported when named
COMMANDS = {
    "explain": ".explain:explain",
    "systems": ".explain:systems",
    "info": ".info:info",
    "steer": ".steer:steer",
    "export": ".steer:export",
    "decide": ".steer:decide",
    "chat": ".chat:chat",
    "serve": ".serve:serve",
    "pack": ".pack:pack",
    "compare": ".compare:compare",
    "extract": ".extract:extract",
    "calibrate": ".calibrate:calibrate",
    "measure": ".measure:measure",
    "eval": ".evaluate:eval_",
}


@click.group(cls=LazyGroup, lazy=COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="couple-lite", prog_name="couple-lite")
def main() -> None:
    """couple-lite: steer a local language model toward a pluralistic value profile.

    Start with `couple-lite explain --values power=6` (no model needed) or
    `couple-lite info` (fetches and describes the default model).
    """
