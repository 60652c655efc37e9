"""`pos sandbox …`: run the simulated gateways and act as the customer against a running one.

``serve`` runs the ASGI app; ``pay``, ``authcode``, ``fault`` and ``rotate-cert`` talk to the running
sandbox over its control endpoints, so all state stays in that one process.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
import httpx

from pos_app.config import Settings, load_settings
from pos_app.extras import require

FAULT_KINDS = (
    "latency",
    "reply_lost",
    "server_error",
    "notify_duplicate",
    "notify_reorder",
    "notify_delay",
    "notify_drop",
    "clock_skew",
)
config_option = click.option(
    "--config",
    "config",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Profile file (default: $POS_HOME/pos.toml).",
)
url_option = click.option("--url", help="Sandbox base URL (default: http://[sandbox] listen of the profile).")


def _settings(config: Path | None) -> Settings:
    return load_settings(config)


def _base_url(config: Path | None, url: str | None) -> str:
    if url:
        return url.rstrip("/")
    return "http://" + _settings(config).sandbox.listen


def _call(base: str, method: str, path: str, body: Any = None) -> Any:
    try:
        response = httpx.request(method, base + path, json=body, timeout=10)
    except httpx.HTTPError:
        raise click.ClickException(f"Sandbox not reachable at {base} — start it with `pos sandbox serve`.") from None
    if response.status_code >= 400:
        try:
            detail = response.json().get("detail", response.text)
        except ValueError:
            detail = response.text
        raise click.ClickException(f"Sandbox refused: {detail}")
    return response.json()


@click.group()
def sandbox() -> None:
    """Simulated WeChat Pay / Alipay gateways and the customer's wallet."""


@sandbox.command()
@config_option
@click.option("--listen", help="host:port (default: [sandbox] listen).")
def serve(config: Path | None, listen: str | None) -> None:
    """Run the simulated gateways (WeChat Pay v3, Alipay), wallet page at /wallet."""
    require("sandbox", what="pos sandbox serve")
    from pos_app.process_gc import serve as serve_frozen
    from pos_app.sandbox.app import create_app
    from pos_app.secret_files import KeyFileError

    settings = _settings(config)
    host, _, port = (listen or settings.sandbox.listen).rpartition(":")
    try:
        app = create_app(settings)
    except KeyFileError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Sandbox on http://{host}:{port} (wallet: http://{host}:{port}/wallet)", err=True)
    serve_frozen(app, host=host or "127.0.0.1", port=int(port), log_level="warning")


@sandbox.command()
@click.argument("code_url_or_qr")
@click.option(
    "--after",
    "after_s",
    type=float,
    default=0.0,
    show_default=True,
    help="Confirm the payment this many seconds from now.",
)
@click.option("--fail", "fail", help="Fail instead of paying: cancel, balance, risk.")
@config_option
@url_option
def pay(code_url_or_qr: str, after_s: float, fail: str | None, config: Path | None, url: str | None) -> None:
    """The customer scans a native QR code (weixin://… or https://qr.alipay.com/…) and pays."""
    outcome = _call(
        _base_url(config, url), "POST", "/sandbox/pay", {"qr": code_url_or_qr, "after_s": after_s, "fail": fail}
    )
    click.echo(f"{outcome['gateway']} {outcome['out_trade_no']}: {outcome['state']} — {outcome['message']}")
    if not outcome["ok"]:
        raise SystemExit(1)


@sandbox.command()
@click.argument("channel", type=click.Choice(["wechat", "alipay"]))
@click.option("--password", "password_s", type=float, default=0.0, help="Seconds the customer takes for the password.")
@click.option("--balance", "balance_fen", type=int, help="Wallet balance in fen (default: enough).")
@click.option("--expired", is_flag=True, help="Issue a code that has already expired.")
@click.option("--cancel", "user_cancels", is_flag=True, help="The customer cancels at the password prompt.")
@config_option
@url_option
def authcode(
    channel: str,
    password_s: float,
    balance_fen: int | None,
    expired: bool,
    user_cancels: bool,
    config: Path | None,
    url: str | None,
) -> None:
    """Print a fresh customer payment code (WeChat 18 digits, Alipay 18 digits starting 28)."""
    answer = _call(
        _base_url(config, url),
        "POST",
        "/sandbox/authcodes",
        {
            "channel": channel,
            "password_seconds": password_s,
            "balance_fen": balance_fen,
            "expired": expired,
            "user_cancels": user_cancels,
        },
    )
    click.echo(answer["auth_code"])


@sandbox.group()
def fault() -> None:
    """Inject gateway faults into the running sandbox."""


@fault.command("add")
@click.argument("kind", type=click.Choice(FAULT_KINDS))
@click.option("--probability", type=float, default=1.0, show_default=True, help="Share of matching requests.")
@click.option("--out-trade-no", help="Only this order.")
@click.option("--gateway", type=click.Choice(["wechat", "alipay"]), help="Only this gateway.")
@click.option("--operation", help="Only this operation (e.g. codepay, query, alipay.trade.pay).")
@click.option("--seconds", type=float, default=0.0, help="Latency, notification delay/hold, or clock skew.")
@click.option("--status", type=int, default=500, show_default=True, help="HTTP status for server_error.")
@click.option("--times", type=int, help="Used up after this many hits.")
@click.option("--seed", type=int, help="Seed of this fault's probability draws (a fault plan's own seed).")
@config_option
@url_option
def fault_add(
    kind: str,
    probability: float,
    out_trade_no: str | None,
    gateway: str | None,
    operation: str | None,
    seconds: float,
    status: int,
    times: int | None,
    seed: int | None,
    config: Path | None,
    url: str | None,
) -> None:
    """Add a fault; prints it with its id."""
    body = {
        "kind": kind,
        "probability": probability,
        "out_trade_no": out_trade_no,
        "gateway": gateway,
        "operation": operation,
        "seconds": seconds,
        "status": status,
        "times": times,
        "seed": seed,
    }
    click.echo(json.dumps(_call(_base_url(config, url), "POST", "/sandbox/faults", body), ensure_ascii=False))


@fault.command("list")
@config_option
@url_option
def fault_list(config: Path | None, url: str | None) -> None:
    """List active faults (one JSON object a line)."""
    for item in _call(_base_url(config, url), "GET", "/sandbox/faults"):
        click.echo(json.dumps(item, ensure_ascii=False))


@fault.command("clear")
@click.argument("fault_id", type=int, required=False)
@config_option
@url_option
def fault_clear(fault_id: int | None, config: Path | None, url: str | None) -> None:
    """Remove one fault by id, or all of them."""
    path = f"/sandbox/faults/{fault_id}" if fault_id is not None else "/sandbox/faults"
    click.echo(f"cleared {_call(_base_url(config, url), 'DELETE', path)['cleared']}")


@sandbox.command("rotate-cert")
@config_option
@url_option
def rotate_cert(config: Path | None, url: str | None) -> None:
    """Platform-certificate mode: add a newer WeChat Pay platform certificate (several live)."""
    for cert in _call(_base_url(config, url), "POST", "/sandbox/platform-certs"):
        click.echo(f"{cert['serial_no']}  {cert['effective_time']} .. {cert['expire_time']}")


@sandbox.command()
@click.argument("page_url")
@click.option("--app", "app", type=click.Choice(["wechat", "alipay", "browser"]), required=True, help="Scan with.")
@click.option("--amount", help="Store QR: the amount the customer types, in yuan (e.g. 23.00).")
@click.option("--cancel", "choice", flag_value="cancel", help="The customer cancels in the payment sheet.")
@click.option("--fail", "choice", flag_value="fail", help="The payment fails in the payment sheet.")
@click.option("--user", default="demo-user", show_default=True, help="The simulated wallet user.")
@click.option("--url", "sandbox_url", help="Sandbox base URL for the bridge (default: the wallet's authorize host).")
@click.option(
    "--quirk",
    type=click.Choice(["none", "cancel_although_paid", "no_callback", "8000", "6004"]),
    default="none",
    help="Paid, but the page's callback lies (WeChat: cancel_although_paid; Alipay: 8000, 6004) or never comes.",
)
@click.option("--notify", type=click.Choice(["normal", "delay", "drop"]), default="normal", help="The notification.")
@click.option("--oauth-error", type=click.Choice(["40029", "40163", "-1"]), help="WeChat's code exchange fails so.")
def scan(
    page_url: str,
    app: str,
    amount: str | None,
    choice: str | None,
    user: str,
    sandbox_url: str | None,
    quirk: str,
    notify: str,
    oauth_error: str | None,
) -> None:
    """A phone scans a one-QR or store-QR page URL with WeChat or Alipay and pays (prints every step)."""
    import asyncio
    import itertools

    from pos_app.domain.errors import PosError
    from pos_app.domain.money import parse_amount
    from pos_app.sandbox.phone import scan as phone_scan
    from pos_app.sandbox.phone.report import conclusion, step_line

    try:
        amount_fen = parse_amount(amount) if amount is not None else None
    except PosError as exc:
        raise click.UsageError(f"--amount: {exc}") from None
    click.echo(f"Scanning {page_url} with {app}…", err=True)
    numbers = itertools.count(1)
    try:
        outcome = asyncio.run(
            phone_scan(
                page_url,
                app=app,  # type: ignore[arg-type]  # click.Choice guarantees the literal
                amount_fen=amount_fen,
                choice=choice or "pay",  # type: ignore[arg-type]
                user=user,
                sandbox_url=sandbox_url,
                quirk=quirk,
                notify=notify,  # type: ignore[arg-type]
                oauth_error=int(oauth_error) if oauth_error is not None else None,
                on_step=lambda step: click.echo(step_line(next(numbers), step)),  # each step as it happens
            )
        )
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    for line in conclusion(outcome):
        click.echo(line)
    if outcome.error is not None:
        raise SystemExit(1)
