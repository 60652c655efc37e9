"""Capture the till's main screens at 80×24 in tmux, in one language, for the README.

    .venv/bin/python scripts/screens.py [--language zh_CN|en] [--home DIR]

Starts the embedded default (`python -m pos_app`, sandbox + engine children) in a fresh profile under
tmux at 80×24, walks a cashier through sign-in, an amount, a WeChat QR (then cancels it), a cash
sale, today's history and the manager dashboard, and prints each screen as a fenced block, the way a
person sees it (plain text: the QR's colours do not survive, its half blocks do).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

COLUMNS, ROWS = 80, 24


class Tmux:
    """One detached tmux session running one command."""

    def __init__(self, name: str, command: str, env: dict[str, str]) -> None:
        self.name = name
        exports = " ".join(f"{key}={value}" for key, value in env.items())
        subprocess.run(
            ["tmux", "new-session", "-d", "-s", name, "-x", str(COLUMNS), "-y", str(ROWS), f"{exports} {command}"],
            check=True,
        )

    def screen(self) -> str:
        return subprocess.run(["tmux", "capture-pane", "-t", self.name, "-p"], capture_output=True, text=True).stdout

    def keys(self, *keys: str) -> None:
        subprocess.run(["tmux", "send-keys", "-t", self.name, *keys], check=True)

    def type(self, text: str) -> None:
        subprocess.run(["tmux", "send-keys", "-t", self.name, "-l", text], check=True)

    def wait_for(self, *texts: str, timeout: float = 90.0) -> str:
        """The screen once it shows every one of ``texts`` and has stopped changing."""
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            now = self.screen()
            if all(text in now for text in texts) and now == last:
                return now
            last = now
            time.sleep(0.4)
        raise TimeoutError(f"waited for {texts!r}; the screen shows:\n{self.screen()}")

    def close(self) -> None:
        subprocess.run(["tmux", "kill-session", "-t", self.name], check=False, capture_output=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--language", default="en", choices=["en", "zh_CN"])
    parser.add_argument("--home", type=Path, default=None, help="profile directory (default: a fresh temporary one)")
    args = parser.parse_args()
    chinese = args.language == "zh_CN"
    home = args.home or Path(tempfile.mkdtemp(prefix="pos-screens-"))
    env = {"POS_HOME": str(home), "POS_TERMINAL__LANGUAGE": args.language, "TERM": "xterm-256color"}
    tmux = Tmux(f"pos-screens-{os.getpid()}", f"{sys.executable} -m pos_app", env)
    shots: list[tuple[str, str]] = []
    try:
        shots.append(("Sign in", tmux.wait_for("PIN" if not chinese else "PIN", "SANDBOX", timeout=180)))
        tmux.type("1234")
        tmux.keys("Enter")
        tmux.wait_for("Checkout" if not chinese else "收银")
        tmux.type("12.50")
        shots.append(("Checkout", tmux.wait_for("12")))
        tmux.type("w")
        shots.append(("Native QR", tmux.wait_for("P2", timeout=30)))
        tmux.keys("Escape")
        time.sleep(3.0)  # the order is closed at the gateway and the screen says so
        shots.append(("QR cancelled", tmux.wait_for("P2", timeout=30)))
        tmux.keys("Enter")
        time.sleep(1.0)
        tmux.keys("Escape")  # back at checkout with the cancelled sale's amount: clear it
        time.sleep(0.5)
        tmux.type("8.80")
        tmux.type("c")
        time.sleep(1.0)
        tmux.type("10")
        tmux.keys("Enter")
        shots.append(("Cash sale: the receipt", tmux.wait_for("8.80", timeout=30)))
        tmux.keys("Enter")
        time.sleep(1.0)
        tmux.type("h")
        shots.append(("History", tmux.wait_for("8.80", timeout=30)))
        tmux.keys("Escape")
        time.sleep(1.0)
        tmux.keys("F2")
        time.sleep(1.5)
        tmux.type("9999")
        tmux.keys("Enter")
        shots.append(("Manager dashboard", tmux.wait_for("¥", timeout=30)))
    finally:
        tmux.keys("C-q")
        time.sleep(2.0)
        tmux.close()
    for title, screen in shots:
        print(f"{title}:\n\n```\n{screen.rstrip()}\n```\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
