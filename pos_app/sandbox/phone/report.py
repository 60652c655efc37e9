"""The phone's story in lines of text, for ``pos sandbox scan`` (what a phone user would have seen)."""

from __future__ import annotations

from pos_app.sandbox.phone.scan import ScanOutcome, Step


def step_line(number: int, step: Step) -> str:
    return f"{number}. {step.what}" + (f"  [{step.url}]" if step.url else "")


def conclusion(outcome: ScanOutcome) -> list[str]:
    """How it ended (the steps themselves are printed as they happen)."""
    lines: list[str] = []
    if outcome.error is not None:
        lines.append(f"Stopped: {outcome.error}")
    elif outcome.bridge is None:
        lines.append(f"Final page (HTTP {outcome.final_status}): {outcome.final_text}")
    if outcome.trade_state is not None:
        lines.append(f"Sandbox: the order is now {outcome.trade_state} at the gateway.")
    return lines
