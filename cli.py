"""couple-lite's command line: `python cli.py --help`.

The commands live in ``couple_lite/cli.py`` (everyday) and ``couple_lite/cli_research.py``
(extract, calibrate, measure, eval), where Python caches their bytecode between runs.
"""

from couple_lite.cli import main
from couple_lite import cli_research  # noqa: F401  (registers the research commands on main)

if __name__ == "__main__":
    main()
