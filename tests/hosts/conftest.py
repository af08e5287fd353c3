"""The test-host fixtures (hosts, repositories) and the fleet fixtures, for tests/hosts."""

from tests.hosts.fixtures import *  # noqa: F403
from tests.hosts.fleet import fleet, make_fleet  # noqa: F401
