"""`pos doctor`: the engine's public URL (HTTPS for real gateways, a warning in sandbox demos; its
/healthz reachable over a real loopback socket) and the one-QR AppSecret file."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from pos_app.config import Settings, load_settings
from pos_app.doctor import Level
from pos_app.doctor_public_url import check_public_url
from pos_app.sandbox.demo import DemoProfile


class _Health(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        self.send_response(200 if self.path == "/healthz" else 404)
        self.end_headers()
        self.wfile.write(b'{"status":"ok"}')

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the stdlib's name
        return


@pytest.fixture
def healthz() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _settings(profile: DemoProfile, public_url: str, *, sandbox: bool) -> Settings:
    settings = load_settings(profile.config)
    settings.engine.public_url = public_url
    settings.terminal.sandbox = sandbox
    return settings


def _levels(settings: Settings, check: str = "public_url") -> list[Level]:
    return [f.level for f in check_public_url(settings) if f.check == check]


def test_sandbox_demo_on_http_is_a_warning_and_reachable_is_ok(demo_profile: DemoProfile, healthz: str) -> None:
    assert _levels(_settings(demo_profile, healthz, sandbox=True)) == [Level.WARN, Level.OK]


def test_real_gateways_need_https(demo_profile: DemoProfile, healthz: str) -> None:
    findings = list(check_public_url(_settings(demo_profile, healthz, sandbox=False)))
    errors = [f for f in findings if f.level is Level.ERROR]
    assert len(errors) == 1 and "not HTTPS" in errors[0].message


def test_unreachable_public_url_fails_for_real_gateways(demo_profile: DemoProfile) -> None:
    settings = _settings(demo_profile, "https://127.0.0.1:9", sandbox=False)
    messages = [f.message for f in check_public_url(settings) if f.level is Level.ERROR]
    assert any("unreachable" in m for m in messages) and any("port" in m for m in messages)


def test_one_qr_secret_file_is_checked_without_showing_it(demo_profile: DemoProfile) -> None:
    settings = load_settings(demo_profile.config)
    assert _levels(settings, "one_qr") == [Level.OK]
    secret_file = demo_profile.home / "keys" / "wechat_oauth_secret"
    secret = secret_file.read_text()
    secret_file.chmod(0o644)
    findings = [f for f in check_public_url(settings) if f.check == "one_qr"]
    assert [f.level for f in findings] == [Level.WARN]
    assert secret not in findings[0].message and "wechat_oauth_secret" in findings[0].message
