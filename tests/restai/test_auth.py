"""Login, refresh before expiry with rotation, re-login, 401 recovery, no leaked secrets."""

from __future__ import annotations

import logging
import time

import pytest

from adapter.drivers import driver_settings
from adapter.settings import SettingsError
from pos_drivers import PosUnavailable, PushEvent
from pos_drivers.restai import RestaiDriver
from tests.restai.conftest import make_driver
from tests.restai.fake_restai import FakeRestai
from tests.restai.helpers import item


def shift_clock(driver: RestaiDriver, seconds: float) -> None:
    """Make the driver's token manager live ``seconds`` in the future."""
    driver._auth._clock = lambda: time.time() + seconds


async def test_logs_in_once_and_reads_the_branch(driver: RestaiDriver, fake: FakeRestai) -> None:
    await driver.read_check("3")
    await driver.list_products()
    assert fake.logins == 1
    assert fake.count("GET", f"/api/branches/{fake.branch_id}") == 1


async def test_token_is_refreshed_before_expiry_and_rotated(
    driver: RestaiDriver, fake: FakeRestai
) -> None:
    first_refresh = next(iter(fake.refresh_tokens))
    shift_clock(driver, 15 * 60 - 30)  # inside the renewal margin
    await driver.read_check("3")
    assert (fake.logins, fake.refreshes) == (1, 1)
    assert first_refresh not in fake.refresh_tokens  # rotated: the old one is gone
    shift_clock(driver, 2 * (15 * 60 - 30))
    await driver.read_check("3")
    assert (fake.logins, fake.refreshes) == (1, 2)


async def test_refused_refresh_token_leads_to_a_new_login(
    driver: RestaiDriver, fake: FakeRestai
) -> None:
    fake.revoke_refresh_tokens()  # e.g. a logout elsewhere with the same account
    shift_clock(driver, 15 * 60)
    check = await driver.read_check("3")
    assert check.table_name == "Mesa 3"
    assert fake.logins == 2


async def test_a_401_renews_the_token_and_repeats_the_call(
    driver: RestaiDriver, fake: FakeRestai
) -> None:
    await fake.staff_order_hook(3, [item(fake, "Ceviche Clásico")])
    fake.revoke_access_tokens()
    check = await driver.read_check("3")
    assert len(check.lines) == 1
    assert fake.refreshes == 1


async def test_refused_credentials_are_pos_unavailable(fake: FakeRestai) -> None:
    async with make_driver(fake, password="wrong-password") as driver:  # open() survives
        with pytest.raises(PosUnavailable) as caught:
            await driver.read_check("3")
    assert caught.value.pos_detail == "401 UNAUTHORIZED: Credenciales inválidas"
    assert "wrong-password" not in str(caught.value)


def test_missing_credentials_name_the_variable_not_the_value(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("POS_ADAPTER_RESTAI_EMAIL", raising=False)
    monkeypatch.setenv("POS_ADAPTER_RESTAI_PASSWORD", "s3cret-pw")
    with pytest.raises(SettingsError, match="POS_ADAPTER_RESTAI_EMAIL") as caught:
        driver_settings(RestaiDriver)
    assert "s3cret-pw" not in str(caught.value)
    assert "\n" not in str(caught.value)


async def test_credentials_and_tokens_never_reach_logs_or_reprs(
    fake: FakeRestai, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with make_driver(fake) as driver:
        await driver.read_check("3")
        fake.revoke_access_tokens()
        await driver.read_check("3")
        events = driver.push_events()
        assert await anext(events) == PushEvent(None)
        await events.aclose()
        text = caplog.text + repr(driver) + repr(driver._auth) + repr(driver._settings)
    assert fake.issued
    for secret in ["gerente123", *fake.issued]:
        assert secret not in text
