"""``python -m couple_lite ...``: the same command line as ``couple-lite`` (and ``python cli.py`` in a checkout)."""

from .cli import main

if __name__ == "__main__":
    main(prog_name="python -m couple_lite")
