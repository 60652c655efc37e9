"""Which optional part of the install (a pyproject extra) a command needs, and a clear refusal when it is absent."""

from __future__ import annotations

import importlib.util

from pos_app.domain.errors import ConfigError

#: The modules each extra brings (pyproject.toml [project.optional-dependencies]).
EXTRA_MODULES: dict[str, tuple[str, ...]] = {
    "engine": ("fastapi", "uvicorn", "sse_starlette", "prometheus_client", "cryptography", "pyarrow", "isal"),
    "sandbox": ("fastapi", "uvicorn", "multipart", "cryptography", "tomli_w"),
    "console": ("starlette", "uvicorn", "multipart", "jinja2", "limits"),
    "postgres": ("psycopg",),
    "printer": ("escpos",),
    "xlsx": ("openpyxl",),
    "camera": ("cv2",),
}


class MissingExtra(ConfigError):
    """A command needs a part of pos-app this installation does not have."""


def missing(extra: str) -> list[str]:
    return [name for name in EXTRA_MODULES[extra] if importlib.util.find_spec(name) is None]


def require(*extras: str, what: str) -> None:
    """Raise :class:`MissingExtra` naming the pip command, if any of ``extras`` is not installed."""
    absent = [extra for extra in extras if missing(extra)]
    if absent:
        spec = ",".join(absent)
        raise MissingExtra(
            f"{what} needs the '{spec}' part of pos-app, which is not installed: "
            f"pip install 'pos-app[{spec}]' (or 'pos-app[all]')."
        )
