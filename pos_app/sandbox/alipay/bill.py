"""The daily trade bill (业务明细) as Alipay serves it: a ZIP of two GBK CSV files (spec §5).

Pure: rows are built from the trades paid and the refunds made during the day; the caller loads
them. Every money column is written from int fen; refund rows carry negative amounts.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from pos_app.domain.china_time import in_china
from pos_app.domain.money import fen_to_yuan
from pos_app.sandbox.alipay.model import Refund, Trade, fmt_time

DETAIL_HEADER = (
    "支付宝交易号,商户订单号,业务类型,商品名称,创建时间,完成时间,门店编号,门店名称,操作员,终端号,对方账户,"
    "订单金额（元）,商家实收（元）,支付宝红包（元）,集分宝（元）,支付宝优惠（元）,商家优惠（元）,券核销金额（元）,"
    "券名称,商家红包消费金额（元）,卡消费金额（元）,退款批次号/请求号,服务费（元）,分润（元）,备注"
)
SUMMARY_HEADER = (
    "门店编号,门店名称,交易订单总笔数,退款订单总笔数,订单金额（元）,商家实收（元）,支付宝优惠（元）,商家优惠（元）,"
    "卡消费金额（元）,服务费（元）,分润（元）,实收净额（元）"
)
#: Columns Alipay ends with a TAB so spreadsheet programs keep long numbers as text.
TEXT_COLUMNS = frozenset({0, 1, 2, 6, 7, 8, 9, 10, 19, 21})
NEWLINE = "\r\n"
ZERO = "0.00"


@dataclass(frozen=True, slots=True)
class BillLine:
    """One row of 业务明细: a payment (交易) or a refund (退款)."""

    trade_no: str
    out_trade_no: str
    kind: str  # 交易 | 退款
    subject: str
    created_at: datetime
    finished_at: datetime
    store_id: str
    operator_id: str
    terminal_id: str
    buyer: str
    order_fen: int
    receipt_fen: int
    request_no: str
    remark: str


def _csv_field(text: str) -> str:
    if any(c in text for c in ',"\r\n'):
        return '"' + text.replace('"', '""') + '"'
    return text


def _buyer(trade: Trade) -> str:
    return trade.buyer_logon_id


def lines_for_day(paid: Sequence[Trade], refunds: Sequence[tuple[Refund, Trade]]) -> list[BillLine]:
    """Payments completed and refunds made during the day, in time order."""
    lines: list[BillLine] = []
    for trade in paid:
        assert trade.paid_at is not None and trade.trade_no is not None
        lines.append(
            BillLine(
                trade.trade_no,
                trade.out_trade_no,
                "交易",
                trade.subject,
                trade.created_at or trade.ordered_at,
                trade.paid_at,
                trade.store_id,
                trade.operator_id,
                trade.terminal_id,
                _buyer(trade),
                trade.total_fen,
                trade.total_fen,
                "",
                trade.body or trade.subject,
            )
        )
    for refund, trade in refunds:
        assert trade.trade_no is not None
        lines.append(
            BillLine(
                trade.trade_no,
                trade.out_trade_no,
                "退款",
                trade.subject,
                trade.created_at or trade.ordered_at,
                refund.refunded_at,
                refund.store_id or trade.store_id,
                refund.operator_id or trade.operator_id,
                refund.terminal_id or trade.terminal_id,
                _buyer(trade),
                -refund.amount_fen,
                -refund.amount_fen,
                refund.out_request_no,
                refund.reason or trade.body or trade.subject,
            )
        )
    lines.sort(key=lambda line: (line.finished_at, line.kind != "交易", line.out_trade_no, line.request_no))
    return lines


def _detail_row(line: BillLine) -> str:
    cells = [
        line.trade_no,
        line.out_trade_no,
        line.kind,
        line.subject,
        fmt_time(line.created_at),
        fmt_time(line.finished_at),
        line.store_id,
        line.store_id,
        line.operator_id,
        line.terminal_id,
        line.buyer,
        fen_to_yuan(line.order_fen),
        fen_to_yuan(line.receipt_fen),
        ZERO,
        ZERO,
        ZERO,
        ZERO,
        ZERO,
        "",
        ZERO,
        ZERO,
        line.request_no,
        ZERO,
        ZERO,
        line.remark,
    ]
    return ",".join(_csv_field(c) + ("\t" if i in TEXT_COLUMNS else "") for i, c in enumerate(cells))


def _cn_time(at: datetime) -> str:
    return in_china(at).strftime("%Y年%m月%d日 %H:%M:%S")


def _heading(title: str, account: str, start: datetime, end: datetime) -> list[str]:
    return [
        f"#{title}",
        f"#账号：[{account}]",
        f"#起始日期：[{_cn_time(start)}]   终止日期：[{_cn_time(end)}]",
    ]


def detail_csv(account: str, start: datetime, end: datetime, lines: Sequence[BillLine], exported: datetime) -> str:
    trades = [x for x in lines if x.kind == "交易"]
    refunds = [x for x in lines if x.kind == "退款"]
    out = _heading("支付宝业务明细查询", account, start, end)
    out.append("#" + "-" * 41 + "业务明细列表" + "-" * 40)
    out.append(DETAIL_HEADER)
    out.extend(_detail_row(x) for x in lines)
    out.append("#" + "-" * 41 + "业务明细列表结束" + "-" * 36)
    trade_sum = fen_to_yuan(sum(x.receipt_fen for x in trades))
    refund_sum = fen_to_yuan(sum(x.receipt_fen for x in refunds))
    out.append(f"#交易合计：{len(trades)}笔，商家实收共{trade_sum}元，商家优惠共0.00元")
    out.append(f"#退款合计：{len(refunds)}笔，商家实收退款共{refund_sum}元，商家优惠退款共0.00元")
    out.append(f"#导出时间：[{_cn_time(exported)}]")
    return NEWLINE.join(out) + NEWLINE


def summary_csv(account: str, start: datetime, end: datetime, lines: Sequence[BillLine], exported: datetime) -> str:
    stores = sorted({x.store_id for x in lines})
    out = _heading("支付宝业务汇总查询", account, start, end)
    out.append("#" + "-" * 41 + "业务汇总列表" + "-" * 40)
    out.append(SUMMARY_HEADER)

    def row(first: str, name: str, group: Sequence[BillLine]) -> str:
        order = sum(x.order_fen for x in group)
        receipt = sum(x.receipt_fen for x in group)
        counts = [sum(1 for x in group if x.kind == "交易"), sum(1 for x in group if x.kind == "退款")]
        cells = [first, name, str(counts[0]), str(counts[1]), fen_to_yuan(order), fen_to_yuan(receipt)]
        cells += [ZERO, ZERO, ZERO, ZERO, ZERO, fen_to_yuan(receipt)]
        return ",".join(cells)

    for store in stores:
        group = [x for x in lines if x.store_id == store]
        out.append(row(_csv_field(store) + "\t", _csv_field(store) + "\t", group))
    out.append(row("合计", "", lines))
    out.append("#" + "-" * 40 + "业务汇总列表结束" + "-" * 37)
    out.append(f"#导出时间：[{_cn_time(exported)}]")
    return NEWLINE.join(out) + NEWLINE


class _GbkZipInfo(zipfile.ZipInfo):
    """Entry names as GBK bytes without the UTF-8 flag (bit 11), like Alipay's bill ZIPs."""

    def _encodeFilenameFlags(self) -> tuple[bytes, int]:  # noqa: N802 - zipfile's own hook name
        return self.filename.encode("gbk"), self.flag_bits & ~0x800


def bill_file_name(account: str, day: datetime) -> str:
    return f"{account}_{in_china(day):%Y%m%d}.csv.zip"


def trade_bill_zip(
    account: str, start: datetime, end: datetime, lines: Sequence[BillLine], exported: datetime
) -> bytes:
    """The ZIP for one day's ``trade`` bill: ``…_业务明细.csv`` and ``…_业务明细(汇总).csv`` in GBK."""
    stem = f"{account}_{in_china(start):%Y%m%d}"
    files = [
        (f"{stem}_业务明细.csv", detail_csv(account, start, end, lines, exported)),
        (f"{stem}_业务明细(汇总).csv", summary_csv(account, start, end, lines, exported)),
    ]
    buffer = io.BytesIO()
    stamp = in_china(exported).timetuple()[:6]
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in files:
            info = _GbkZipInfo(name, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, text.encode("gbk"))
    return buffer.getvalue()
