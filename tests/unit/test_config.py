"""Settings: TOML file + POS_* environment (env wins), one-line errors, paths relative to the profile."""

from __future__ import annotations

from pathlib import Path

import pytest

from pos_app.config import CONFIG_NAME, Settings, config_path, default_home, load_settings
from pos_app.domain.errors import ConfigError
from pos_app.domain.money import DEFAULT_MAX_SALE_FEN


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("POS_") and name != "POS_TEST_PG_URL":
            monkeypatch.delenv(name)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, "utf-8")
    return path


def test_file_values_and_documented_defaults(tmp_path: Path) -> None:
    config = write(
        tmp_path / "p" / CONFIG_NAME,
        '[terminal]\nstore_id = "S9"\nterminal_id = "T7"\nmax_sale_fen = 50000\n[engine]\nlisten = "127.0.0.1:9000"\n',
    )
    settings = load_settings(config)
    assert settings.terminal.store_id == "S9" and settings.terminal.terminal_id == "T7"
    assert settings.terminal.max_sale_fen == 50000
    assert settings.engine.listen == "127.0.0.1:9000"
    assert settings.terminal.engine_url == "http://127.0.0.1:8700"  # default kept
    assert Settings().terminal.max_sale_fen == DEFAULT_MAX_SALE_FEN


def test_environment_wins_over_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = write(tmp_path / CONFIG_NAME, '[terminal]\nengine_url = "http://file:1"\nstore_id = "FILE"\n')
    monkeypatch.setenv("POS_TERMINAL__ENGINE_URL", "http://env:2")
    monkeypatch.setenv("POS_ENGINE__REQUEST_TIMEOUT_S", "3.5")
    settings = load_settings(config)
    assert settings.terminal.engine_url == "http://env:2"
    assert settings.terminal.store_id == "FILE"  # the rest of the section still comes from the file
    assert settings.engine.request_timeout_s == 3.5


def test_unrelated_pos_variables_are_ignored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POS_SOMETHING_ELSE", "x")
    assert load_settings(write(tmp_path / CONFIG_NAME, "")).terminal.terminal_id == "T001"


def test_missing_file_is_one_line_naming_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / CONFIG_NAME
    with pytest.raises(ConfigError) as info:
        load_settings(missing)
    assert str(missing) in info.value.message and "\n" not in info.value.message
    assert "pos demo init" in info.value.message
    assert load_settings(missing, must_exist=False).home == missing.parent.resolve()


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ('[terminal]\nmax_sale_fen = "lots"\n', "[terminal] max_sale_fen"),
        ("[terminal]\nmax_sale_fen = 0\n", "[terminal] max_sale_fen"),
        ('[terminal]\nengin_url = "http://x"\n', "[terminal] engin_url"),
        ('[wechatpay]\nverify_mode = "magic"\n', "[wechatpay] verify_mode"),
        ("[nonsense]\nx = 1\n", "nonsense"),
    ],
)
def test_broken_field_is_one_line_naming_file_and_field(tmp_path: Path, text: str, field: str) -> None:
    config = write(tmp_path / CONFIG_NAME, text)
    with pytest.raises(ConfigError) as info:
        load_settings(config)
    message = info.value.message
    assert message.startswith(f"{config}: ") and field in message and "\n" not in message


def test_broken_environment_value_names_the_field(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POS_TERMINAL__MAX_SALE_FEN", "many")
    with pytest.raises(ConfigError, match=r"\[terminal\] max_sale_fen"):
        load_settings(write(tmp_path / CONFIG_NAME, ""))


def test_invalid_toml_is_one_line(tmp_path: Path) -> None:
    config = write(tmp_path / CONFIG_NAME, "[terminal\nstore_id = 1\n")
    with pytest.raises(ConfigError) as info:
        load_settings(config)
    assert info.value.message.startswith(f"{config}: not valid TOML") and "\n" not in info.value.message


def test_relative_paths_resolve_against_the_profile_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "profile"
    config = write(
        home / CONFIG_NAME,
        '[terminal]\njournal_path = "data/journal.sqlite3"\n[engine]\ndatabase_url = "sqlite:///ledger.db"\n'
        f'[wechatpay]\nmerchant_private_key = "{tmp_path}/abs.pem"\n',
    )
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    settings = load_settings(config)
    assert settings.home == home.resolve()
    assert settings.path(settings.terminal.journal_path) == home.resolve() / "data" / "journal.sqlite3"
    assert settings.path(settings.terminal.terminal_key_file) == home.resolve() / "terminal.key"
    assert settings.path(settings.wechatpay.merchant_private_key) == tmp_path / "abs.pem"
    assert settings.database_url == f"sqlite:///{home.resolve()}/ledger.db"


def test_absolute_and_server_database_urls_are_kept(tmp_path: Path) -> None:
    for url in ("sqlite:////var/lib/pos/ledger.db", "postgresql+psycopg://pos@db/pos", "sqlite:///:memory:"):
        config = write(tmp_path / CONFIG_NAME, f'[engine]\ndatabase_url = "{url}"\n')
        assert load_settings(config).database_url == url


def test_pos_home_chooses_the_profile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POS_HOME", str(tmp_path / "shop"))
    assert default_home() == tmp_path / "shop"
    assert config_path() == tmp_path / "shop" / CONFIG_NAME
    write(config_path(), '[terminal]\nname = "Front till"\n')
    settings = load_settings()
    assert settings.terminal.name == "Front till" and settings.home == (tmp_path / "shop").resolve()


def test_demo_profile_loads(demo_settings: Settings) -> None:
    assert demo_settings.terminal.sandbox is True
    assert demo_settings.terminal.engine_url == f"http://{demo_settings.engine.listen}"
    assert demo_settings.path(demo_settings.terminal.journal_path) == demo_settings.home / "journal.sqlite3"
    assert demo_settings.path(demo_settings.wechatpay.merchant_private_key).exists()
