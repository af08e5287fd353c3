"""``python3 -m upkeep_agent`` is ``upkeep-agent``."""

import sys

from upkeep_agent.cli import main

sys.exit(main())
