"""TableMgmtSettings: read from POS_ADAPTER_TABLEMGMT_*, one token source, valid values."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from pos_drivers import DriverConfig, load_driver
from pos_drivers.tablemgmt import TableMgmtDriver, TableMgmtSettings

OUTLET = "701f2ac0-07c2-5681-ac77-0a3708485668"


def test_read_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("POS_ADAPTER_TABLEMGMT_TOKEN_FILE", str(tmp_path / "jwt"))
    monkeypatch.setenv("POS_ADAPTER_TABLEMGMT_OUTLET_ID", OUTLET)
    monkeypatch.setenv("POS_ADAPTER_TABLEMGMT_CURRENCY", "JPY")
    monkeypatch.setenv("POS_ADAPTER_TABLEMGMT_PAGE_SIZE", "20")

    settings = TableMgmtSettings()  # type: ignore[call-arg]

    assert settings.token_file == tmp_path / "jwt"
    assert settings.token is None
    assert (settings.outlet_id, settings.currency, settings.page_size) == (OUTLET, "JPY", 20)


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POS_ADAPTER_TABLEMGMT_TOKEN", "a.jwt.token")
    monkeypatch.setenv("POS_ADAPTER_TABLEMGMT_OUTLET_ID", OUTLET)

    settings = TableMgmtSettings()  # type: ignore[call-arg]

    assert settings.token is not None
    assert settings.token.get_secret_value() == "a.jwt.token"
    assert (settings.currency, settings.page_size, settings.table_refresh_seconds) == (
        "IDR", 100, 5.0)


def test_the_token_never_shows_in_a_repr() -> None:
    settings = TableMgmtSettings(token="secret.jwt.value", outlet_id=OUTLET)  # type: ignore[arg-type]
    assert "secret.jwt.value" not in repr(settings)


@pytest.mark.parametrize(
    "tokens",
    [{}, {"token": "a.b.c", "token_file": "/run/secrets/jwt"}, {"token": "  ", "token_file": ""}],
    ids=["neither", "both", "blank"],
)
def test_exactly_one_token_source(tokens: dict[str, str]) -> None:
    with pytest.raises(ValidationError) as caught:
        TableMgmtSettings(outlet_id=OUTLET, **tokens)  # type: ignore[arg-type]
    message = str(caught.value)
    assert "POS_ADAPTER_TABLEMGMT_TOKEN " in message
    assert "POS_ADAPTER_TABLEMGMT_TOKEN_FILE" in message


def test_the_outlet_is_required() -> None:
    with pytest.raises(ValidationError, match="outlet_id"):
        TableMgmtSettings(token="a.b.c")  # type: ignore[arg-type,call-arg]


@pytest.mark.parametrize("outlet", ["", ".", "..", " "])
def test_an_outlet_that_cannot_be_a_path_segment_is_refused(outlet: str) -> None:
    with pytest.raises(ValidationError, match="outlet_id"):
        TableMgmtSettings(token="a.b.c", outlet_id=outlet)  # type: ignore[arg-type]


@pytest.mark.parametrize("currency", ["idr", "RUPIAH", "ID", "12A", ""])
def test_the_currency_is_an_iso_4217_code(currency: str) -> None:
    with pytest.raises(ValidationError, match="currency"):
        TableMgmtSettings(token="a.b.c", outlet_id=OUTLET, currency=currency)  # type: ignore[arg-type]


@pytest.mark.parametrize("page_size", [0, 101])
def test_the_page_size_is_what_the_api_allows(page_size: int) -> None:
    with pytest.raises(ValidationError, match="page_size"):
        TableMgmtSettings(token="a.b.c", outlet_id=OUTLET, page_size=page_size)  # type: ignore[arg-type]


def test_every_field_is_described() -> None:
    for name, field in TableMgmtSettings.model_fields.items():
        assert field.description, name


def test_the_driver_declares_its_settings_and_reads_them_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("POS_ADAPTER_TABLEMGMT_TOKEN", "a.jwt.token")
    monkeypatch.setenv("POS_ADAPTER_TABLEMGMT_OUTLET_ID", OUTLET)

    driver_class = load_driver("tablemgmt")
    driver = driver_class(DriverConfig(pos_url="http://127.0.0.1:1"))

    assert driver_class is TableMgmtDriver
    assert TableMgmtDriver.settings_model is TableMgmtSettings
    assert isinstance(driver.settings, TableMgmtSettings)
    assert driver.settings.outlet_id == OUTLET
