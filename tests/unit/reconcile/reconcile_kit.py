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


WECHAT_HEADER = (
    "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,"
    "货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,"
    "商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注"
)
WECHAT_SUMMARY = "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额"


def _y(fen: int) -> str:
    sign = "-" if fen < 0 else ""
    return f"{sign}{abs(fen) // 100}.{abs(fen) % 100:02d}"


def _fee(millifen: int) -> str:
    sign = "-" if millifen < 0 else ""
    return f"{sign}{abs(millifen) // 100000}.{abs(millifen) % 100000:05d}"


def wechat_row(
    out_trade_no: str,
    amount_fen: int,
    *,
    state: str = "SUCCESS",
    out_refund_no: str = "",
    refund_fen: int = 0,
    at: str = "2026-11-21 10:00:00",
    txid: str = "4200000001202611210000000000",
) -> tuple[str, int, int, int]:
    """One ALL-bill detail line; returns (line, settle_fen, refund_fen, fee_millifen)."""
    if out_refund_no:
        fee = -(refund_fen * 6)  # 0.6% returned, in millifen (fen * 1000 * 0.006)
        fields = [at, "wxd930ea5d5a258f4f", "1900000109", "0", "T001", txid, out_trade_no, "oUser", "MICROPAY",
                  "REFUND", "OTHERS", "CNY", "0.00", "0.00", "503" + out_refund_no[-10:], out_refund_no,
                  _y(refund_fen), "0.00", "ORIGINAL", "SUCCESS", "商品", "", _fee(fee), "0.60%", "0.00",
                  _y(refund_fen), ""]  # fmt: skip
        return "`" + ",`".join(fields), 0, refund_fen, fee
    fee = amount_fen * 6 if state != "REVOKED" else 0
    fields = [at, "wxd930ea5d5a258f4f", "1900000109", "0", "T001", txid, out_trade_no, "oUser", "MICROPAY", state,
              "OTHERS", "CNY", _y(amount_fen), "0.00", "0", "0", "0.00", "0.00", "", "", "商品", "", _fee(fee),
              "0.60%", _y(amount_fen), "0.00", ""]  # fmt: skip
    return "`" + ",`".join(fields), amount_fen, 0, fee


def wechat_bill(rows: list[tuple[str, int, int, int]]) -> str:
    """A whole ALL bill (header, rows, summary computed from the rows)."""
    settle = sum(r[1] for r in rows)
    refund = sum(r[2] for r in rows)
    fee = sum(r[3] for r in rows)
    summary = f"`{len(rows)},`{_y(settle)},`{_y(refund)},`0.00,`{_fee(fee)},`{_y(settle)},`{_y(refund)}"
    return "\r\n".join([WECHAT_HEADER, *(r[0] for r in rows), WECHAT_SUMMARY, summary]) + "\r\n"
