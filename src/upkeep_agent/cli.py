"""``upkeep-agent``: the machine-side command. Its commands (connect, run, status) arrive with
the agent protocol; until then it reports its version and says so."""

import argparse
import sys
from typing import List, Optional

from upkeep_agent import __version__


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog="upkeep-agent",
        description="The Upkeep agent. This build has no machine commands yet.",
    )
    parser.add_argument("--version", action="version", version="upkeep-agent " + __version__)
    parser.parse_args(argv)
    parser.print_help()
    return 0


if __name__ == "__main__":
    sys.exit(main())
