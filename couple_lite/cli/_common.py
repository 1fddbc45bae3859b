"""What every command of the command line shares: the lazy group, one-line errors, JSON and progress
output, the options every command reads (--threads, --n-ctx, --scope, --scm, --refine, --gate) and
loading a model, a pack and a steerer with them. Imports no command module (no cycle)."""

from __future__ import annotations

import json
import os
import sys
from importlib import import_module

# Pydantic scans every installed distribution for plugins on its first model; a command line
# tool has no use for them, and the scan is start-up time (set the variable to re-enable).
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
# llama.cpp gives each computation its thread count explicitly; OpenMP's default team only adds
# threads that spin while the model loads (~70 ms of CPU on 2 cores, measured in bench/cold_start.py),
# taking the core that `steer` plans on meanwhile. Decoding and batched capture run as fast with it.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import click

from ..errors import CoupleError

__all__ = [
    "LazyGroup",
    "print_json",
    "progress",
    "THREADS_OPTION",
    "threads",
    "N_CTX_OPTION",
    "n_ctx",
    "DEFAULT_N_CTX",
    "SCOPE_OPTION",
    "SCM_OPTION",
    "engine_options",
    "engine_for",
    "pack_for_engine",
    "parse_layers",
    "steerer_for",
    "REFINE_OPTION",
    "GATE_OPTION",
    "planned",
    "gate_on",
    "command_line",
]


class LazyGroup(click.Group):
    """A group whose ``lazy`` commands ("name" -> "module:attribute") are imported when first named,
    so a command's dependencies load only for it; every library error becomes one line and exit 2."""

    def __init__(self, *args, lazy: dict[str, str] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.lazy = dict(lazy or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *self.lazy})

    def get_command(self, ctx: click.Context, name: str):
        if name not in self.commands and name in self.lazy:
            module, attr = self.lazy[name].split(":")
            self.add_command(getattr(import_module(module, __package__), attr), name)
        return super().get_command(ctx, name)

    def invoke(self, ctx: click.Context):
        import signal
        import threading

        previous = None
        if threading.current_thread() is threading.main_thread():
            previous = signal.signal(signal.SIGTERM, _terminate)
        try:
            return super().invoke(ctx)
        except CoupleError as e:
            click.echo(f"error: {e}", err=True)
            sys.exit(2)
        except KeyboardInterrupt:  # context managers have restored the model on the way out
            click.echo("\ninterrupted", err=True)
            sys.exit(130)
        except Terminated:
            click.echo("\nterminated", err=True)
            sys.exit(143)
        finally:
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)


class Terminated(BaseException):
    """SIGTERM, raised in the main thread so that every ``finally`` (model restore) runs."""


def _terminate(signum, frame):
    raise Terminated()


def print_json(obj) -> None:
    click.echo(json.dumps(obj, indent=2, sort_keys=False))


def progress(label: str):
    """A ``(done, total[, step])`` callback drawing click's progress bar (with time left) on stderr."""
    state: dict = {"bar": None, "done": 0}

    def show(done: int, total: int, step: str = "") -> None:
        bar = state["bar"]
        if bar is None:
            bar = state["bar"] = click.progressbar(
                length=total, label=label, file=sys.stderr, item_show_func=lambda s: s[:40] if s else None
            )
            bar.__enter__()
        bar.update(done - state["done"], step or None)
        state["done"] = done
        if done >= total:
            bar.__exit__(None, None, None)
            state["bar"], state["done"] = None, 0

    return show


def _meta_option(flag: str, key: str, **kwargs):
    """An option every command shares, kept in the click context's meta (so helpers such as
    :func:`load_engine` read it) instead of being passed to the command function."""

    def store(ctx: click.Context, _param, value):
        if value is not None:
            ctx.meta[f"couple_lite.{key}"] = value

    return click.option(flag, default=None, expose_value=False, callback=store, **kwargs)


def _meta(key: str, default=None):
    ctx = click.get_current_context(silent=True)
    return ctx.meta.get(f"couple_lite.{key}", default) if ctx else default


THREADS_OPTION = _meta_option(
    "--threads",
    "threads",
    type=click.IntRange(min=1),
    help="llama.cpp threads (default: physical cores; fewer leaves cores to other work).",
)


def threads() -> int | None:
    """The --threads given to the running command, if any."""
    return _meta("threads")


# tokens of prompt + answer the model holds: room for a long chat turn on the default model, whose
# KV cache then takes ~45 MB; --n-ctx raises it (the model's own training context is the ceiling)
DEFAULT_N_CTX = 2048

N_CTX_OPTION = _meta_option(
    "--n-ctx",
    "n_ctx",
    type=click.IntRange(min=64),
    help=f"Context length in tokens, prompt and answer together (default: {DEFAULT_N_CTX}); raise it for long prompts.",
)


def n_ctx() -> int:
    """The --n-ctx given to the running command, else the default."""
    return _meta("n_ctx", DEFAULT_N_CTX)


SCOPE_OPTION = _meta_option(
    "--scope",
    "steer_scope",
    type=click.Choice(["all", "answer"]),
    help="Where the vector is added: 'all' positions (default, as llama.cpp does) or only the 'answer' "
    "(the question is read unsteered).",
)

SCM_OPTION = _meta_option(
    "--scm",
    "scm",
    type=click.Choice(["prior", "model"]),
    help="Value graph of the counterfactual: 'prior' (psychology's, default) or 'model' (fitted to how "
    "steering moves this model's values; see explain --compare-scm).",
)

REFINE_OPTION = _meta_option(
    "--refine",
    "refine",
    type=click.IntRange(0, 10),
    help="Closed-loop rounds: measure the steered profile on the calibration items and correct the plan "
    "(a few seconds a round, cached per objective and pack; default 0: the open-loop plan).",
)

GATE_OPTION = _meta_option(
    "--gate",
    "gate",
    type=click.Choice(["on", "off"]),
    help="'on': steer only prompts the relevance gate finds value-relevant (a factual question is answered "
    "unsteered); default off.",
)


def planned(steerer, objective, ablation, explain: bool = True, refine: bool = True):
    """The plan for an objective, refined when --refine N asks for it (with a progress bar) and
    ``refine`` allows it (not for a prompt the gate answers unsteered)."""
    plan = steerer.plan(objective, ablation, explain=explain, strict=True)
    rounds = _meta("refine", 0) if refine else 0
    return steerer.refine(plan, rounds, progress=progress("refine")) if rounds else plan


def gate_on() -> bool:
    return _meta("gate", "off") == "on"


def engine_options() -> dict:
    """The Engine arguments of the running command's --n-ctx, --threads and --scope."""
    return {"n_ctx": n_ctx(), "n_threads": threads(), "steer_scope": _meta("steer_scope", "all")}


def engine_for(model):
    """The model the command names (a registered name or a GGUF path), loaded with its options."""
    from ..engine import load_engine

    return load_engine(model, **engine_options())


def pack_for_engine(pack_path, engine, system):
    """The pack for this model and value system (the shipped one unless a path is given) and its path."""
    from ..steering import pack_for

    return pack_for(engine, system, pack_path)


def parse_layers(text):
    if not text:
        return None
    try:
        a, b = (int(x) for x in text.split("-"))
    except ValueError:
        raise click.BadParameter("write the layer range as FIRST-LAST, e.g. 10-17") from None
    return a, b


def steerer_for(model, pack_path, system="schwartz10", engine=None):
    """A Steerer on ``engine`` (or on the model loaded now with the command's options) with its pack."""
    from ..steering import load_steerer

    return load_steerer(model, pack_path, system, engine=engine, scm=_meta("scm", "prior"), **engine_options())


def command_line() -> str:
    """How this command was run, for reports: ``couple-lite`` and its arguments."""
    return "couple-lite " + " ".join(sys.argv[1:])
