"""The simulated phone: a wallet's in-app browser that scans one-QR and store-QR pages (issue 19).

``await scan(url, app="wechat", amount_fen=2300)`` → :class:`ScanOutcome` (every step, the bridge
data, the callback, what the engine answered). ``pos sandbox scan URL --app wechat`` prints the steps.
"""

from pos_app.sandbox.phone.scan import ScanOutcome, Step, scan

__all__ = ["ScanOutcome", "Step", "scan"]
