"""``python -m upkeep`` is ``upkeep``."""

import sys

from upkeep.cli.main import main

sys.exit(main())
