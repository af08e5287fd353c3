"""Tokens: created by Owners over the API or by ``upkeep admin`` on a data directory,
stored hashed, expiring and revocable."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from tests.conftest import SettableClock
from tests.helpers import RESOURCES, group_path
from upkeep.cli.main import main
from upkeep.db.store import Store
from upkeep.db.tables import tokens as token_table
from upkeep.server import open_store

TOKENS = "api-version=2026-11-01"


def tokens_path(scope: str = "") -> str:
    return f"{scope}/providers/Upkeep.Authorization/tokens"


def test_an_owner_issues_a_scoped_token_that_works_once_shown(
    api: TestClient, app_client: TestClient, subscription_id: str
) -> None:
    scope = f"/subscriptions/{subscription_id}"
    created = api.post(f"{tokens_path(scope)}?{TOKENS}", json={"name": "ci", "role": "Reader"})
    assert created.status_code == 201
    body = created.json()
    secret = body["properties"]["secret"]
    assert body["properties"]["role"] == "Reader"
    assert body["properties"]["scope"] == scope
    reader = {"Authorization": f"Bearer {secret}"}
    assert (
        app_client.get(
            f"/subscriptions/{subscription_id}/resourcegroups?{RESOURCES}", headers=reader
        ).status_code
        == 200
    )
    listed = api.get(f"{tokens_path(scope)}?{TOKENS}").json()["value"]
    assert [item["name"] for item in listed] == ["ci"]
    assert "secret" not in listed[0]["properties"]
    shown = api.get(f"{body['id']}?{TOKENS}").json()
    assert shown["properties"]["state"] == "Active"


def test_revoking_takes_effect_at_once(api: TestClient, subscription_id: str) -> None:
    created = api.post(f"{tokens_path()}?{TOKENS}", json={"role": "Contributor"}).json()
    other = {"Authorization": f"Bearer {created['properties']['secret']}"}
    assert api.get("/subscriptions?api-version=2022-12-01", headers=other).status_code == 200
    revoked = api.delete(f"{created['id']}?{TOKENS}")
    assert revoked.json()["properties"]["state"] == "Revoked"
    assert api.get("/subscriptions?api-version=2022-12-01", headers=other).status_code == 401


def test_tokens_expire(api: TestClient, clock: SettableClock) -> None:
    created = api.post(
        f"{tokens_path()}?{TOKENS}", json={"role": "Reader", "expiresIn": "1h"}
    ).json()
    other = {"Authorization": f"Bearer {created['properties']['secret']}"}
    assert api.get("/subscriptions?api-version=2022-12-01", headers=other).status_code == 200
    clock.advance(hours=1, seconds=1)
    assert api.get("/subscriptions?api-version=2022-12-01", headers=other).status_code == 401


def test_an_owner_cannot_issue_tokens_above_its_scope(
    api: TestClient, app_client: TestClient, subscription_id: str
) -> None:
    scope = f"/subscriptions/{subscription_id}"
    owner = api.post(f"{tokens_path(scope)}?{TOKENS}", json={"role": "Owner"}).json()
    headers = {"Authorization": f"Bearer {owner['properties']['secret']}"}
    above = app_client.post(f"{tokens_path()}?{TOKENS}", json={"role": "Owner"}, headers=headers)
    assert above.status_code == 403
    inside = app_client.post(
        f"{tokens_path(scope)}?{TOKENS}", json={"role": "Reader"}, headers=headers
    )
    assert inside.status_code == 201


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"role": "Admin"}, "role"),
        ({"role": "Reader", "expiresIn": "forever"}, "expiresIn"),
        ({}, "role"),
    ],
)
def test_bad_token_requests_name_the_field(api: TestClient, body: dict, field: str) -> None:
    response = api.post(f"{tokens_path()}?{TOKENS}", json=body)
    assert response.status_code == 400
    assert response.json()["error"]["target"] == field


def test_tokens_for_a_scope_that_does_not_exist_are_refused(api: TestClient) -> None:
    scope = group_path("00000000-0000-0000-0000-0000000000aa", "g")
    response = api.post(f"{tokens_path(scope)}?{TOKENS}", json={"role": "Reader"})
    assert response.status_code == 404


def test_secrets_are_stored_only_as_hashes(api: TestClient, store: Store) -> None:
    secret = api.post(f"{tokens_path()}?{TOKENS}", json={"role": "Reader"}).json()["properties"][
        "secret"
    ]
    with store.reading() as connection:
        stored = [tuple(row) for row in connection.execute(select(token_table))]
    assert secret not in repr(stored)


def test_admin_token_commands_work_on_the_data_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    assert (
        main(
            [
                "admin",
                "subscription",
                "create",
                "--data-dir",
                str(data),
                "--name",
                "Prod",
                "--id",
                "0a0a0a0a-0000-0000-0000-000000000001",
            ]
        )
        == 0
    )
    capsys.readouterr()
    scope = "/subscriptions/0a0a0a0a-0000-0000-0000-000000000001"
    assert (
        main(
            [
                "admin",
                "token",
                "create",
                "--data-dir",
                str(data),
                "--role",
                "Reader",
                "--scope",
                scope,
                "--expires",
                "30d",
                "--name",
                "dashboard",
            ]
        )
        == 0
    )
    secret = capsys.readouterr().out.strip()
    assert secret.startswith("upk_")
    assert main(["admin", "token", "list", "--data-dir", str(data)]) == 0
    listing = capsys.readouterr().out
    assert "dashboard" in listing and "Reader" in listing and secret not in listing
    assert main(["admin", "token", "revoke", "--data-dir", str(data), "dashboard"]) == 0
    assert main(["admin", "token", "list", "--data-dir", str(data), "-o", "json"]) == 0
    assert '"state": "Revoked"' in capsys.readouterr().out
    store = open_store(data)
    with store.reading() as connection:
        assert connection.execute(select(token_table.c.secret_hash)).scalar() != secret
    store.dispose()


@pytest.mark.parametrize(
    ("arguments", "complaint"),
    [
        (["--role", "Boss", "--scope", "/"], "unknown role"),
        (["--role", "Reader", "--scope", "/nowhere"], "is not a scope"),
        (["--role", "Reader", "--scope", "/", "--expires", "soon"], "is not a span of time"),
        (
            ["--role", "Reader", "--scope", "/subscriptions/0a0a0a0a-0000-0000-0000-00000000ffff"],
            "could not be found",
        ),
    ],
)
def test_admin_token_create_refuses_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], arguments: list[str], complaint: str
) -> None:
    code = main(["admin", "token", "create", "--data-dir", str(tmp_path / "d"), *arguments])
    assert code != 0
    assert complaint in capsys.readouterr().err
