"""The chain's profile on disk: the demo profile (till T001 of S00001, the engine and the sandbox) plus
one small profile per other till under ``tills/<terminal>/``, pointing at the same engine and keys."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomli_w

from pos_app.config import CONFIG_NAME, Settings, load_settings
from pos_app.demo_chain.plan import CHAIN, StoreSpec, TillSpec
from pos_app.private_files import FILE_MODE, private_dir
from pos_app.sandbox.demo import init_demo_profile

#: Files the sandbox creates when it first runs (not there yet when the till profiles are written).
_LATER_FILES: dict[str, tuple[str, ...]] = {"sandbox": ("state_path",)}


@dataclass(frozen=True, slots=True)
class ChainTill:
    store: StoreSpec
    spec: TillSpec
    settings: Settings


def till_home(home: Path, till: TillSpec) -> Path:
    """T001 of the first store is the main profile itself (what `POS_HOME=DIR pos` opens)."""
    first = CHAIN[0].tills[0]
    return home if till == first else home / "tills" / till.terminal_id


def write_chain_profile(home: Path) -> tuple[Settings, list[ChainTill]]:
    """Create the profile (refusing a directory that is not empty); the main settings and every till's."""
    home = home.expanduser().resolve()
    if home.exists() and any(home.iterdir()):
        raise FileExistsError(f"{home} is not empty — choose a new directory for the demo chain.")
    profile = init_demo_profile(home)
    main: dict[str, Any] = tomllib.loads(profile.config.read_text("utf-8"))
    main["terminal"]["store_name"] = CHAIN[0].name
    _write(profile.config, main)
    tills: list[ChainTill] = []
    for store in CHAIN:
        for till in store.tills:
            target = till_home(home, till)
            if target != home:
                private_dir(target)
                _write(target / CONFIG_NAME, _till_document(main, home, store, till))
            tills.append(ChainTill(store, till, load_settings(target / CONFIG_NAME)))
    return load_settings(profile.config), tills


def _till_document(main: dict[str, Any], home: Path, store: StoreSpec, till: TillSpec) -> dict[str, Any]:
    document = {section: dict(values) for section, values in main.items()}
    document["terminal"].update(
        store_id=store.store_id, store_name=store.name, terminal_id=till.terminal_id, name=till.name
    )
    # Every file of the main profile (keys, key directories) is named absolutely from a till's profile.
    for section, values in document.items():
        if section == "terminal":
            continue
        for key, value in values.items():
            relative = isinstance(value, str) and value and not Path(value).is_absolute() and "://" not in value
            if relative and (key in _LATER_FILES.get(section, ()) or (home / value).exists()):
                values[key] = str(home / value)
    document["engine"]["database_url"] = "sqlite:///" + str(home / "engine.sqlite3")
    return document


def _write(path: Path, document: dict[str, Any]) -> None:
    header = "# pos_app demo chain profile (sandbox: training mode, no real money). See README.md, `pos demo chain`.\n"
    path.write_text(header + tomli_w.dumps(document), "utf-8")
    path.chmod(FILE_MODE)
