"""The phone's story in lines of text, for ``pos sandbox scan`` (what a phone user would have seen)."""

from __future__ import annotations

from pos_app.sandbox.phone.scan import ScanOutcome


def describe(outcome: ScanOutcome) -> list[str]:
    lines = [f"{n}. {step.what}" + (f"  [{step.url}]" if step.url else "") for n, step in enumerate(outcome.steps, 1)]
    if outcome.error is not None:
        lines.append(f"Stopped: {outcome.error}")
    elif outcome.bridge is None:
        lines.append(f"Final page (HTTP {outcome.final_status}): {outcome.final_text}")
    if outcome.trade_state is not None:
        lines.append(f"Sandbox: the order is now {outcome.trade_state} at the gateway.")
    return lines
