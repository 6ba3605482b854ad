"""The locations file: several locations, each with its driver, its driver's settings and
its own POS-facing settings; every fault named by location and key."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from adapter.locations import LocationsFileError, load_locations
from adapter.settings import Settings, SubmissionPolicy
from handlers import ChangeMode
from pos_drivers.mock import MockDriver
from pos_drivers.restai import RestaiDriver, RestaiSettings


@pytest.fixture
def settings() -> Settings:
    return Settings(location_id="env-only", pos_url="http://127.0.0.1:8081", poll_interval=2.0)


def with_file(settings: Settings, tmp_path: Path, text: str) -> Settings:
    path = tmp_path / "locations.toml"
    path.write_text(text)
    return settings.model_copy(update={"locations_file": path})


def test_without_a_file_the_environment_is_one_location(settings: Settings) -> None:
    [location] = load_locations(settings)

    assert location.id == "env-only"
    assert location.settings == settings
    assert location.driver.driver_class is MockDriver


def test_each_location_has_its_driver_settings_and_overrides(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MIRAFLORES_PASSWORD", "from-the-environment")
    configured = with_file(settings, tmp_path, """
        [[location]]
        id = "downtown"

        [[location]]
        id = "miraflores"
        driver = "restai"
        pos_url = "https://restai.example"
        email = "gerente@restai.pe"
        password = "${MIRAFLORES_PASSWORD}"
        branch_id = "b-7"
        poll_interval = 0.5
        change_mode = "poll"
        pos_deadline = 4
        submission_policy = "atomic"
    """)

    downtown, miraflores = load_locations(configured)

    assert downtown.id == "downtown"
    assert downtown.driver.driver_class is MockDriver
    assert downtown.settings.pos_url == settings.pos_url
    assert downtown.settings.poll_interval == 2.0
    assert miraflores.driver.driver_class is RestaiDriver
    restai = miraflores.driver.settings
    assert isinstance(restai, RestaiSettings)
    assert restai.password == SecretStr("from-the-environment")
    assert (restai.email, restai.branch_id) == ("gerente@restai.pe", "b-7")
    own = miraflores.settings
    assert (own.location_id, own.pos_url, own.poll_interval) == (
        "miraflores", "https://restai.example", 0.5)
    assert (own.change_mode, own.pos_deadline, own.submission_policy) == (
        ChangeMode.POLL, 4.0, SubmissionPolicy.ATOMIC)
    assert own.amqp_url == settings.amqp_url  # the process's own settings are shared


def test_every_fault_is_one_line_naming_the_location_and_the_key(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NOT_SET_ANYWHERE", raising=False)
    monkeypatch.delenv("POS_ADAPTER_RESTAI_EMAIL", raising=False)
    configured = with_file(settings, tmp_path, """
        [[location]]
        driver = "mock"

        [[location]]
        id = "a"
        poll_interval = -1
        colour = "blue"

        [[location]]
        id = "b"
        driver = "restai"
        password = "${NOT_SET_ANYWHERE}"

        [[location]]
        id = "c"
        driver = "nope"

        [[location]]
        id = "c"
    """)

    with pytest.raises(LocationsFileError) as caught:
        load_locations(configured)

    lines = str(caught.value).splitlines()
    assert all(line.startswith(f"{configured.locations_file}: ") for line in lines)
    faults = [line.split(": ", 1)[1] for line in lines]
    assert "location #1: id: required (a string)" in faults
    assert any(f.startswith("location 'a': poll_interval: ") for f in faults)
    assert "location 'a': colour: not a setting of the adapter or of the mock driver" in faults
    assert "location 'b': password: ${NOT_SET_ANYWHERE}: the environment variable " \
           "NOT_SET_ANYWHERE is not set" in faults
    assert any(f.startswith("location 'b': email: ") for f in faults)
    assert "location 'c': driver: unknown driver 'nope'" in faults
    assert "location 'c': id: used twice" not in faults  # the first 'c' was refused already


def test_an_unknown_key_is_named(settings: Settings, tmp_path: Path) -> None:
    configured = with_file(settings, tmp_path, """
        [[location]]
        id = "a"
        curency = "PEN"
    """)

    with pytest.raises(LocationsFileError, match="location 'a': curency: not a setting"):
        load_locations(configured)


def test_a_repeated_id_is_named(settings: Settings, tmp_path: Path) -> None:
    configured = with_file(settings, tmp_path, '[[location]]\nid = "a"\n[[location]]\nid = "a"\n')

    with pytest.raises(LocationsFileError, match="location 'a': id: used twice"):
        load_locations(configured)


@pytest.mark.parametrize(("text", "why"), [
    ("[[location]\nid=", "not TOML"),
    ("location = 3", "location: must be an array of tables"),
    ("", r"no \[\[location\]\] table"),
])
def test_a_file_that_is_no_locations_file(
    settings: Settings, tmp_path: Path, text: str, why: str
) -> None:
    with pytest.raises(LocationsFileError, match=why):
        load_locations(with_file(settings, tmp_path, text))


def test_a_missing_file_is_named(settings: Settings, tmp_path: Path) -> None:
    configured = settings.model_copy(update={"locations_file": tmp_path / "nope.toml"})

    with pytest.raises(LocationsFileError, match=r"nope\.toml: cannot be read"):
        load_locations(configured)
