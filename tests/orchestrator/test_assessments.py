"""Periodic assessment: machines set to assessmentMode AutomaticByPlatform (at enrollment
or by PATCH) are assessed by the platform every 24 hours, each at its own offset, and not
again while a recent assessment (or an install's closing one) is fresh."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tests.conftest import SettableClock
from tests.orchestrator.fleet import Fleet, utc

COMPUTE = "api-version=2025-04-01"
AUTOMATIC = {"patchSettings": {"assessmentMode": "AutomaticByPlatform"}}
ASSESSED = {"status": "Succeeded", "rebootPending": False, "patchServiceUsed": "APT",
            "osType": "Linux", "errors": [], "patches": []}  # fmt: skip


def report(fleet: Fleet, name: str, job: dict[str, Any]) -> None:
    answer = fleet.agents.post(
        f"/agent/v1/jobs/{job['id']}/result",
        json={"result": ASSESSED},
        headers={"Authorization": f"Bearer {fleet.credentials[name]}"},
    )
    assert answer.status_code == 200, answer.text


def test_a_machine_enrolled_for_platform_assessment_is_assessed_now_and_daily(
    fleet: Fleet, clock: SettableClock
) -> None:
    clock.now = utc("2026-11-26 08:00")
    fleet.machine("Web", "auto", **AUTOMATIC)
    fleet.machine("Web", "manual")
    fleet.tick()
    job = fleet.job_of("auto")
    assert job is not None
    assert (job["kind"], job["startedBy"]) == ("assess", "Platform")
    assert fleet.job_of("manual") is None
    report(fleet, "auto", job)

    clock.advance(hours=23, minutes=59)
    fleet.tick()
    assert fleet.job_of("auto") is None  # assessed less than a day ago
    clock.advance(hours=1, minutes=2)  # a day and its offset (under an hour) later
    fleet.tick()
    again = fleet.job_of("auto")
    assert again is not None
    assert again["kind"] == "assess"


def test_a_fresh_assessment_postpones_the_platform_one(fleet: Fleet, clock: SettableClock) -> None:
    clock.now = utc("2026-11-26 08:00")
    web = fleet.machine("Web", "auto", **AUTOMATIC)
    fleet.tick()
    report(fleet, "auto", fleet.job_of("auto"))  # type: ignore[arg-type]
    clock.advance(hours=20)
    assert fleet.api.post(f"{web}/assessPatches?{COMPUTE}").status_code == 202
    report(fleet, "auto", fleet.job_of("auto"))  # type: ignore[arg-type]
    clock.advance(hours=5)  # due by the first assessment, not by the user's
    fleet.tick()
    assert fleet.job_of("auto") is None
    clock.advance(hours=20)
    fleet.tick()
    assert fleet.job_of("auto") is not None


def test_offsets_spread_a_fleet_enrolled_at_once(fleet: Fleet, clock: SettableClock) -> None:
    clock.now = utc("2026-11-26 08:00")
    names = [f"m{index}" for index in range(12)]
    for name in names:
        fleet.machine("Web", name, **AUTOMATIC)
    fleet.tick()
    for name in names:
        report(fleet, name, fleet.job_of(name))  # type: ignore[arg-type]
    assessed_at = {}
    for minute in range(0, 61, 5):
        clock.now = utc("2026-11-27 08:00") + timedelta(minutes=minute)
        fleet.tick()
        for name in names:
            if name not in assessed_at and fleet.job_of(name) is not None:
                assessed_at[name] = minute
    assert sorted(assessed_at) == sorted(names)
    assert len(set(assessed_at.values())) > 3  # not all in the same minute


def test_patch_switches_platform_assessment_on_and_off(fleet: Fleet, clock: SettableClock) -> None:
    clock.now = utc("2026-11-26 08:00")
    web = fleet.machine("Web", "web-1")
    settings = {
        "osProfile": {
            "linuxConfiguration": {"patchSettings": {"assessmentMode": "AutomaticByPlatform"}}
        }
    }
    answer = fleet.api.patch(
        f"{web}?{COMPUTE}", json={"properties": settings, "tags": {"env": "prod"}}
    )
    assert answer.status_code == 200, answer.text
    shown = answer.json()
    patch_settings = shown["properties"]["osProfile"]["linuxConfiguration"]["patchSettings"]
    assert patch_settings["assessmentMode"] == "AutomaticByPlatform"
    assert shown["tags"] == {"env": "prod"}
    fleet.tick()
    report(fleet, "web-1", fleet.job_of("web-1"))  # type: ignore[arg-type]
    off = {
        "osProfile": {"linuxConfiguration": {"patchSettings": {"assessmentMode": "ImageDefault"}}}
    }
    assert fleet.api.patch(f"{web}?{COMPUTE}", json={"properties": off}).status_code == 200
    clock.advance(days=3)
    fleet.tick()
    assert fleet.job_of("web-1") is None


@pytest.mark.parametrize(
    ("body", "target"),
    [
        ({"properties": {"osProfile": {"linuxConfiguration": {"patchSettings": {"assessmentMode": "Hourly"}}}}},
         "properties.osProfile.linuxConfiguration.patchSettings.assessmentMode"),
        ({"properties": {"osProfile": {"linuxConfiguration": {"patchSettings": {"rebootMode": "x"}}}}},
         "properties.osProfile.linuxConfiguration.patchSettings.rebootMode"),
        ({"properties": {"hardwareProfile": {"vmSize": "Standard_B2s"}}}, "properties.hardwareProfile"),
        ({"location": "westus"}, "location"),
    ],
    ids=["unknown mode", "unknown setting", "not a patch setting", "not changeable"],
)  # fmt: skip
def test_bad_machine_patches_name_the_field_and_change_nothing(
    fleet: Fleet, clock: SettableClock, body: dict[str, Any], target: str
) -> None:
    web = fleet.machine("Web", "web-1")
    before = fleet.api.get(f"{web}?{COMPUTE}").json()
    answer = fleet.api.patch(f"{web}?{COMPUTE}", json=body)
    assert answer.status_code == 400
    assert answer.json()["error"]["target"] == target
    assert fleet.api.get(f"{web}?{COMPUTE}").json() == before
