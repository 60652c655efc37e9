"""The till's screens (Textual). See DESIGN.md §3.

Textual paints a changed screen on its next frame, at most ``TEXTUAL_FPS`` times a second (60 by
default): a change waits up to 17 ms for its frame. A till's screen changes rarely (a key, a payment's
news, the clock), so a higher cap costs nothing while idle and cuts that wait on the cashier's path
from the key to the QR (``tests/bench/bench_tui.py``). Set before Textual is first imported, which is what
importing this package does first; an operator's own ``TEXTUAL_FPS`` wins.
"""

import os

os.environ.setdefault("TEXTUAL_FPS", "240")
