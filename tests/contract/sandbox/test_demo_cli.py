"""`pos demo init` and the `pos sandbox` commands against a sandbox served on a real loopback socket."""

from __future__ import annotations

import asyncio
import json
import re
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from click.testing import CliRunner

from pos_app.cli import cli
from pos_app.config import load_settings
from pos_app.sandbox.app import create_app
from pos_app.sandbox.demo import free_loopback_port, init_demo_profile
from tests.contract.sandbox.conftest import WechatClient, merchant_of


def test_demo_init_writes_a_profile(tmp_path: Path) -> None:
    home = tmp_path / "demo"
    result = CliRunner().invoke(cli, ["demo", "init", "--dir", str(home)])
    assert result.exit_code == 0, result.output
    assert f"POS_HOME={home.resolve()} pos sandbox serve" in result.output
    settings = load_settings(home / "pos.toml")
    assert settings.wechatpay.base_url == "http://" + settings.sandbox.listen
    for secret in (
        "keys/wechat_merchant_key.pem",
        "keys/wechat_apiv3.key",
        "sandbox-keys/wechat_pay_private.pem",
        "sandbox-keys/alipay_gateway_private.pem",
    ):
        assert stat.S_IMODE((home / secret).stat().st_mode) == 0o600, secret
    assert (home / "sandbox-keys" / "merchant.toml").exists()

    again = CliRunner().invoke(cli, ["demo", "init", "--dir", str(home)])
    assert again.exit_code == 1 and "already exists" in again.output
    forced = CliRunner().invoke(cli, ["demo", "init", "--dir", str(home), "--force"])
    assert forced.exit_code == 0


@pytest.fixture
def running(tmp_path: Path) -> Iterator[Path]:
    """A demo profile whose sandbox is served by uvicorn in a thread; yields the profile home."""
    home = tmp_path / "profile"
    init_demo_profile(home)
    config = home / "pos.toml"
    port = free_loopback_port()
    text = config.read_text("utf-8")
    old = load_settings(config).sandbox.listen
    config.write_text(text.replace(old, f"127.0.0.1:{port}"), "utf-8")
    server = uvicorn.Server(
        uvicorn.Config(create_app(load_settings(config)), host="127.0.0.1", port=port, log_level="critical")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started
    yield home
    server.should_exit = True
    thread.join(10)


class _Clock:
    def now(self) -> float:
        return time.time()


def test_sandbox_commands_talk_to_the_running_sandbox(running: Path) -> None:
    env = {"POS_HOME": str(running)}
    runner = CliRunner()

    code = runner.invoke(cli, ["sandbox", "authcode", "wechat"], env=env)
    assert code.exit_code == 0, code.output
    assert re.fullmatch(r"1[0-5]\d{16}", code.output.strip())
    alipay = runner.invoke(cli, ["sandbox", "authcode", "alipay", "--balance", "100", "--password", "3"], env=env)
    assert re.fullmatch(r"(2[5-9]|30)\d{14,22}", alipay.output.strip())

    added = runner.invoke(
        cli, ["sandbox", "fault", "add", "latency", "--seconds", "0.01", "--gateway", "wechat"], env=env
    )
    assert added.exit_code == 0 and json.loads(added.output)["kind"] == "latency"
    listed = runner.invoke(cli, ["sandbox", "fault", "list"], env=env)
    assert [json.loads(line)["seconds"] for line in listed.output.splitlines()] == [0.01]
    assert runner.invoke(cli, ["sandbox", "fault", "clear"], env=env).output.strip() == "cleared 1"
    bad = runner.invoke(cli, ["sandbox", "fault", "add", "earthquake"], env=env)
    assert bad.exit_code == 2

    settings = load_settings(running / "pos.toml")
    url = "http://" + settings.sandbox.listen

    async def create() -> str:
        async with httpx.AsyncClient() as http:
            client = WechatClient(http, merchant_of(settings), _Clock(), base_url=url)
            response = await client.native("SBXCLI000001", 1999)
            assert response.status_code == 200
            code_url: str = response.json()["code_url"]
            return code_url

    code_url = asyncio.run(create())
    paid = runner.invoke(cli, ["sandbox", "pay", code_url], env=env)
    assert paid.exit_code == 0, paid.output
    assert "SBXCLI000001: SUCCESS" in paid.output
    twice = runner.invoke(cli, ["sandbox", "pay", code_url], env=env)
    assert twice.exit_code == 1
    unknown = runner.invoke(cli, ["sandbox", "pay", "weixin://wxpay/bizpayurl?pr=none"], env=env)
    assert unknown.exit_code == 1 and "no order" in unknown.output

    wallet = httpx.get(url + "/wallet")
    assert wallet.status_code == 200 and "Sandbox wallet" in wallet.text


def test_commands_explain_an_unreachable_sandbox(tmp_path: Path) -> None:
    port = free_loopback_port()
    result = CliRunner().invoke(cli, ["sandbox", "authcode", "wechat", "--url", f"http://127.0.0.1:{port}"])
    assert result.exit_code == 1
    assert "pos sandbox serve" in result.output
