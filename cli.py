"""couple-lite's command line: `python cli.py --help`.

The commands live in ``couple_lite/cli.py`` (everyday) and ``couple_lite/cli_research.py``
(extract, calibrate, measure, eval), where Python caches their bytecode between runs.
"""

from couple_lite.cli import main

if __name__ == "__main__":
    main()
