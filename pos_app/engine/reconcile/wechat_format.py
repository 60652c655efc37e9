"""The WeChat Pay trade bill's format (specs/wechatpay-v3.md §5): headers, columns and state tables.

Shared by the two parsers of that bill (the pure-Python one in ``wechat_bill`` and the Arrow fast
path in ``fast_wechat``), which must read every file the same way.
"""

from __future__ import annotations

from pos_app.engine.reconcile.bill import PAID, REFUND_FAILED, REFUND_PROCESSING, REFUND_SUCCESS, REVOKED

#: The detail header of each bill type (ALL, SUCCESS, REFUND).
HEADER_ALL = (
    "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,"
    "货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,"
    "商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注"
)
HEADER_SUCCESS = (
    "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,"
    "货币种类,应结订单金额,代金券金额,商品名称,商户数据包,手续费,费率,订单金额,费率备注"
)
HEADER_REFUND = (
    "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,"
    "货币种类,应结订单金额,代金券金额,退款申请时间,退款成功时间,微信退款单号,商户退款单号,退款金额,充值券退款金额,"
    "退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注"
)
SUMMARY_HEADER_ALL = "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额"
SUMMARY_HEADER_SUCCESS = "总交易单数,应结订单总金额,手续费总金额,订单总金额"

#: Detail header -> the summary header that must follow the detail lines.
SUMMARY_HEADERS = {
    HEADER_ALL: SUMMARY_HEADER_ALL,
    HEADER_SUCCESS: SUMMARY_HEADER_SUCCESS,
    HEADER_REFUND: SUMMARY_HEADER_ALL,
}

#: Summary column -> the detail column it totals (None: the row count).
SUMMARY_OF = {
    "总交易单数": None,
    "应结订单总金额": "应结订单金额",
    "退款总金额": "退款金额",
    "充值券退款总金额": "充值券退款金额",
    "手续费总金额": "手续费",
    "订单总金额": "订单金额",
    "申请退款总金额": "申请退款金额",
}
#: The detail columns a summary totals (amounts in yuan; 手续费 with five decimals).
SUMMED_COLUMNS = ("应结订单金额", "退款金额", "充值券退款金额", "手续费", "订单金额", "申请退款金额")

#: The columns a bill is built from (the others are only counted).
READ_COLUMNS = frozenset(
    ("交易时间", "微信订单号", "商户订单号", "交易状态", "应结订单金额", "订单金额", "手续费", "商户退款单号",
     "退款金额", "充值券退款金额", "申请退款金额", "退款状态")
)  # fmt: skip

#: 交易状态 of a codepay payment reversed (撤销): its refund-shaped row means the money went back.
TRADE_REVOKED = "REVOKED"
#: 交易状态 -> the bill's row status.
TRADE_STATUS = {"SUCCESS": PAID, "REFUND": PAID, TRADE_REVOKED: REVOKED}
#: 退款状态 -> the bill's refund row status.
REFUND_STATUS = {
    "SUCCESS": REFUND_SUCCESS,
    "PROCESSING": REFUND_PROCESSING,
    "CLOSED": REFUND_FAILED,
    "ABNORMAL": REFUND_FAILED,
    "FAIL": REFUND_FAILED,
    "FAILED": REFUND_FAILED,
    "CHANGE": REFUND_FAILED,
}
#: 商户退款单号 values of a payment row (no refund).
EMPTY_REFUND_NO = ("", "0")
