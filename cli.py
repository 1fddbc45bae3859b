"""couple-lite's command line from a checkout: ``python cli.py --help`` (installed: ``couple-lite --help``).

The commands live in the ``couple_lite.cli`` package, one small module per group of commands.
"""

from couple_lite.cli import main

if __name__ == "__main__":
    main()
