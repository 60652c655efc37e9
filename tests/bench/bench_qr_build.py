"""What the till's own mask choice (``tui/widgets/qr_matrix._QRCode``) buys over plain ``qrcode.QRCode``.

Builds the same native-QR payloads both ways, same run, and prints the median and p95 build time of
each and their ratio. The override exists only for this difference on the key → QR path; if the ratio
falls near 1 with a newer qrcode, drop the override (and the pin in pyproject.toml).

Run: .venv/bin/python tests/bench/bench_qr_build.py [--n 200]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

import qrcode

from pos_app.tui.widgets import qr_matrix

PAYLOADS = (
    "weixin://wxpay/bizpayurl?pr=Qm9tB3xK8z",
    "https://qr.alipay.com/bax03431ljhokirwl38f00a7",
)


def build(cls: Callable[..., Any], data: str) -> None:
    """The same steps as ``qr_matrix.make_matrix``: the strongest level that fits 78×22, then the matrix."""
    for _name, level in qr_matrix.LEVELS:
        code = cls(error_correction=level, border=qr_matrix.QUIET_ZONE, box_size=1)
        code.add_data(data)
        size = code.best_fit() * 4 + 17 + 2 * qr_matrix.QUIET_ZONE
        if size <= 78 and (size + 1) // 2 <= 22:
            code.make(fit=False)
            code.get_matrix()
            return
    raise AssertionError("payload does not fit")


def timings(cls: Callable[..., Any], n: int) -> list[float]:
    out = []
    for i in range(n):
        start = time.perf_counter()
        build(cls, PAYLOADS[i % len(PAYLOADS)])
        out.append((time.perf_counter() - start) * 1000)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200, help="builds of each kind")
    n = parser.parse_args().n
    ours, plain = timings(qr_matrix._QRCode, n), timings(qrcode.QRCode, n)
    for name, values in (("till's mask choice", ours), ("plain qrcode", plain)):
        p95 = statistics.quantiles(values, n=20)[-1]
        print(f"{name:<20} median {statistics.median(values):6.2f} ms   p95 {p95:6.2f} ms")
    print(f"plain / ours (medians): {statistics.median(plain) / statistics.median(ours):.1f}×")


if __name__ == "__main__":
    main()
