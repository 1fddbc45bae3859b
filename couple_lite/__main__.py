"""``python -m couple_lite ...``: the same command line as ``couple-lite`` and ``python cli.py``."""

from .cli import main

if __name__ == "__main__":
    main(prog_name="python -m couple_lite")
