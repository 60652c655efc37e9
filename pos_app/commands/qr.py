"""`pos qr print`: this till's printed store QR (台卡) as a PNG or PDF card, or on the receipt printer.

The engine owns the code (``POST /v1/store-code``); the till asks for it with its terminal key, so
the card always carries the code the engine will accept. ``--rotate`` asks for a new one: the old
printed card then answers customers "this code was replaced".
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING

import click

from pos_app.domain.errors import ConfigError, PosError

if TYPE_CHECKING:
    from PIL.Image import Image

    from pos_app.config import Settings

CONFIG_OPTION = click.option(
    "--config", "config", type=click.Path(dir_okay=False, path_type=Path), default=None,
    help="Profile file (default: $POS_HOME/pos.toml or the user data directory).",
)  # fmt: skip
#: What ``--printer`` alone means: the profile's ``[terminal] printer``.
PROFILE_PRINTER = "profile"


@click.group()
def qr() -> None:
    """The store's printed QR (one code per till: the customer types the amount and pays)."""


@qr.command("print")
@click.option("--rotate", is_flag=True, help="Issue a new code; the old printed card stops taking payments.")
@click.option(
    "--out", "out", type=click.Path(dir_okay=False, path_type=Path), default=None,
    help="Write the card to FILE.png or FILE.pdf (default: store-qr-TERMINAL.png here, unless --printer).",
)  # fmt: skip
@click.option(
    "--printer", "printer", is_flag=False, flag_value=PROFILE_PRINTER, default=None, metavar="[TARGET]",
    help='Print on the receipt printer: "usb:VID:PID", "tcp:HOST[:PORT]" or "file:/path" '
    "(alone: the profile's [terminal] printer).",
)  # fmt: skip
@CONFIG_OPTION
def print_card_command(rotate: bool, out: Path | None, printer: str | None, config: Path | None) -> None:
    """Ask the engine for this till's store code and make its printable card."""
    from pos_app.config import config_path, load_settings
    from pos_app.receipts.store_card import StoreCard, render_card, save_card

    if out is not None and out.suffix.lower() not in (".png", ".pdf"):
        raise click.BadParameter(f"{out.name}: the card is written as .png or .pdf.", param_hint="--out")
    settings = load_settings(config or config_path())
    terminal = settings.terminal
    target = None
    if printer is not None:
        target = terminal.printer if printer == PROFILE_PRINTER else printer
        if not target:
            raise ConfigError("No receipt printer: give --printer TARGET or set [terminal] printer in the profile.")
    if out is None and target is None:
        out = Path(f"store-qr-{terminal.terminal_id}.png")

    click.echo("Asking the engine for this till's store code…", err=True)
    url = asyncio.run(_store_url(settings, rotate=rotate))
    if rotate:
        click.echo("New code issued: the card printed before no longer takes payments.", err=True)
    image = render_card(StoreCard(terminal.store_name, terminal.name or terminal.terminal_id, url))
    if out is not None:
        try:
            save_card(image, out)
        except OSError as exc:
            raise PosError(f"{out}: cannot be written ({exc.strerror or exc.__class__.__name__}).") from None
        click.echo(f"Card written: {out}")
    if target is not None:
        _print(image, target)
        click.echo(f"Card sent to the printer {target}.")
    click.echo(f"The code opens {url}")


async def _store_url(settings: Settings, *, rotate: bool) -> str:
    from pos_app.api.auth import decode_key
    from pos_app.api.client import EngineClient

    terminal = settings.terminal
    key_file = settings.path(terminal.terminal_key_file)
    try:
        key = decode_key(key_file.read_text("utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{key_file}: this till is not activated yet (run `pos` once, or activate it).") from None
    async with EngineClient(terminal.engine_url, terminal.terminal_id, key) as client:
        code = await client.store_code(rotate=rotate)
    return code.url


def _print(image: Image, target: str) -> None:
    from pos_app.extras import require

    require("printer", what="Printing the card")
    from pos_app.receipts.store_card import print_card

    try:
        print_card(image, target)
    except Exception as exc:  # the printer's own errors vary by transport: one line for the cashier
        raise PosError(f"The printer {target} did not take the card ({exc.__class__.__name__}).") from None
