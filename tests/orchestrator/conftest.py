"""The fleet every orchestrator test starts from."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from tests.conftest import SettableClock
from tests.orchestrator.fleet import Fleet
from upkeep.db.store import Store


@pytest.fixture
def fleet(
    api: TestClient,
    app_client: TestClient,
    store: Store,
    clock: SettableClock,
    subscription_id: str,
) -> Fleet:
    return Fleet(api, app_client, store, clock, subscription_id)
