"""Builders shared by the reconciliation tests: Alipay ZIPs the way Alipay ships them."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures"
ACCOUNT = "20880000000000010156"


def alipay_zip(detail_text: str, summary_text: str | None = None, *, day: str = "20261121") -> bytes:
    """A ZIP whose entry names are raw GBK bytes without the UTF-8 flag and whose contents are GBK.

    zipfile only writes ASCII or flagged UTF-8 names, so each entry is written under an ASCII
    placeholder of the same byte length, then the name bytes are swapped in both headers.
    """
    entries = [(f"{ACCOUNT}_{day}_业务明细.csv", detail_text)]
    if summary_text is not None:
        entries.append((f"{ACCOUNT}_{day}_业务明细(汇总).csv", summary_text))
    buffer = io.BytesIO()
    swaps: list[tuple[bytes, bytes]] = []
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for index, (name, text) in enumerate(entries):
            gbk_name = name.encode("gbk")
            placeholder = f"{index}".encode() + b"X" * (len(gbk_name) - 1)
            archive.writestr(placeholder.decode("ascii"), text.encode("gbk"))
            swaps.append((placeholder, gbk_name))
    data = buffer.getvalue()
    for placeholder, gbk_name in swaps:
        assert data.count(placeholder) == 2
        data = data.replace(placeholder, gbk_name)
    return data


def fixture_text(name: str) -> str:
    return (FIXTURES / name).read_text("utf-8")
