"""Trade bills (spec §5): a day of payments, partial refunds, a reversed codepay and closed orders,
checked row for row and in the summary lines against what the sandbox recorded."""

from __future__ import annotations

import gzip
import hashlib
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from tests.contract.sandbox.conftest import START, Sandbox

# Headers exactly as spec §5 lists them.
HEAD = "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,"
ALL = (
    HEAD + "货币种类,"
    "应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,"
    "手续费,费率,订单金额,申请退款金额,费率备注"
)
SUCCESS = HEAD + "货币种类,应结订单金额,代金券金额,商品名称,商户数据包,手续费,费率,订单金额,费率备注"
REFUND = (
    HEAD + "货币种类,"
    "应结订单金额,代金券金额,退款申请时间,退款成功时间,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,"
    "退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注"
)
SUMMARY_ALL = "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额"
SUMMARY_SUCCESS = "总交易单数,应结订单总金额,手续费总金额,订单总金额"
DAY = START.date().isoformat()  # 2026-11-20
DESC = "Demo Store - 2 items"


def at(box: Sandbox, hh: int, mm: int, ss: int = 0) -> None:
    box.clock.set((START.replace(hour=hh, minute=mm, second=ss)).timestamp())


def stamp(hh: int, mm: int, ss: int = 0) -> str:
    return START.replace(hour=hh, minute=mm, second=ss).strftime("%Y-%m-%d %H:%M:%S")


def parse(content: bytes) -> tuple[str, list[list[str]], str, list[str]]:
    """Header, detail rows (backticks removed), summary header, summary values."""
    lines = content.decode("utf-8").split("\r\n")
    assert lines[-1] == ""
    lines = lines[:-1]
    header, *details, summary_header, summary = lines
    rows = []
    for line in details:
        fields = line.split(",")
        assert all(f.startswith("`") for f in fields), line
        rows.append([f[1:] for f in fields])
    assert all(f.startswith("`") for f in summary.split(","))
    return header, rows, summary_header, [f[1:] for f in summary.split(",")]


async def _day(box: Sandbox) -> dict[str, Any]:
    """The day's business; returns what the gateway recorded, read back through its own API."""
    w = box.wechat
    at(box, 10, 0)
    url = (await w.native("SBXBILLN1", 1000, attach="till-1")).json()["code_url"]
    assert (await box.pay(url))["ok"]
    at(box, 10, 1)
    r1 = (await w.refund("SBXBILLN1", "RFBILLN1A", 300, 1000)).json()
    at(box, 10, 3)
    r2 = (await w.refund("SBXBILLN1", "RFBILLN1B", 200, 1000)).json()
    at(box, 10, 5)
    assert (await w.codepay("SBXBILLM1", 500, await box.authcode())).status_code == 200
    at(box, 10, 6)
    assert (await w.reverse("SBXBILLM1")).status_code == 200  # paid, then reversed: money back
    at(box, 10, 7)
    assert (await w.codepay("SBXBILLM2", 700, await box.authcode(password_seconds=120))).status_code == 202
    at(box, 10, 7, 50)
    assert (await w.reverse("SBXBILLM2")).status_code == 200  # never paid
    at(box, 10, 8)
    assert (await w.codepay("SBXBILLM3", 250, await box.authcode())).status_code == 200
    at(box, 10, 9)
    await w.native("SBXBILLC1", 800)
    assert (await w.close("SBXBILLC1")).status_code == 204
    # Just after midnight: tomorrow's bill, not today's.
    box.clock.set((START.replace(hour=0, minute=0, second=30) + timedelta(days=1)).timestamp())
    url = (await w.native("SBXBILLN2", 4200)).json()["code_url"]
    assert (await box.pay(url))["ok"]
    box.clock.advance(61)
    assert (await w.refund("SBXBILLN1", "RFBILLN1C", 100, 1000)).status_code == 200
    # Next morning, 10:00: bills are ready.
    box.clock.set((START + timedelta(days=1)).timestamp())
    await box.advance(0)
    orders = {o: (await w.query(o)).json() for o in ("SBXBILLN1", "SBXBILLM1", "SBXBILLM2", "SBXBILLM3", "SBXBILLC1")}
    assert orders["SBXBILLM2"]["trade_state"] == "REVOKED" and "transaction_id" not in orders["SBXBILLM2"]
    refunds = {}
    for no in ("RFBILLN1A", "RFBILLN1B"):
        refunds[no] = (await w.request("GET", f"/v3/refund/domestic/refunds/{no}")).json()
        assert refunds[no]["status"] == "SUCCESS"
    assert refunds["RFBILLN1A"]["refund_id"] == r1["refund_id"] and refunds["RFBILLN1B"]["refund_id"] == r2["refund_id"]
    return {"orders": orders, "refunds": refunds}


async def _bill(box: Sandbox, query: str) -> tuple[dict[str, Any], bytes]:
    response = await box.wechat.request("GET", f"/v3/bill/tradebill?{query}")
    assert response.status_code == 200, response.text
    assert box.verify(response)
    meta: dict[str, Any] = response.json()
    assert meta["hash_type"] == "SHA1"
    parts = urlsplit(meta["download_url"])
    assert parts.path == "/v3/billdownload/file"
    download = await box.wechat.request("GET", f"{parts.path}?{parts.query}")
    assert download.status_code == 200
    assert "wechatpay-signature" not in download.headers  # the file stream is not signed
    return meta, download.content


async def test_trade_bill_matches_the_day(sandbox: Sandbox) -> None:
    recorded = await _day(sandbox)
    orders, refunds = recorded["orders"], recorded["refunds"]
    appid, mchid = sandbox.merchant.appid, sandbox.merchant.mchid
    n1, m1, m3 = orders["SBXBILLN1"], orders["SBXBILLM1"], orders["SBXBILLM3"]

    def row(
        time: str,
        order: dict[str, Any],
        device: str,
        kind: str,
        state: str,
        settled: str,
        refund_id: str,
        refund_no: str,
        refunded: str,
        rtype: str,
        rstatus: str,
        attach: str,
        fee: str,
        ordered: str,
        requested: str,
    ) -> list[str]:
        return [
            time,
            appid,
            mchid,
            "0",
            device,
            order["transaction_id"],
            order["out_trade_no"],
            order["payer"]["openid"],
            kind,
            state,
            "OTHERS",
            "CNY",
            settled,
            "0.00",
            refund_id,
            refund_no,
            refunded,
            "0.00",
            rtype,
            rstatus,
            DESC,
            attach,
            fee,
            "0.60%",
            ordered,
            requested,
            "",
        ]

    expected = [
        row(
            stamp(10, 0),
            n1,
            "",
            "NATIVE",
            "SUCCESS",
            "10.00",
            "0",
            "0",
            "0.00",
            "",
            "",
            "till-1",
            "0.06000",
            "10.00",
            "0.00",
        ),
        row(
            stamp(10, 1),
            n1,
            "",
            "NATIVE",
            "REFUND",
            "0.00",
            refunds["RFBILLN1A"]["refund_id"],
            "RFBILLN1A",
            "3.00",
            "ORIGINAL",
            "SUCCESS",
            "till-1",
            "-0.02000",
            "0.00",
            "3.00",
        ),
        row(
            stamp(10, 3),
            n1,
            "",
            "NATIVE",
            "REFUND",
            "0.00",
            refunds["RFBILLN1B"]["refund_id"],
            "RFBILLN1B",
            "2.00",
            "ORIGINAL",
            "SUCCESS",
            "till-1",
            "-0.01000",
            "0.00",
            "2.00",
        ),
        row(
            stamp(10, 5),
            m1,
            "T001",
            "MICROPAY",
            "SUCCESS",
            "5.00",
            "0",
            "0",
            "0.00",
            "",
            "",
            "",
            "0.03000",
            "5.00",
            "0.00",
        ),
        row(
            stamp(10, 8),
            m3,
            "T001",
            "MICROPAY",
            "SUCCESS",
            "2.50",
            "0",
            "0",
            "0.00",
            "",
            "",
            "",
            "0.02000",
            "2.50",
            "0.00",
        ),
    ]
    meta, content = await _bill(sandbox, f"bill_date={DAY}&bill_type=ALL")
    assert hashlib.sha1(content).hexdigest() == meta["hash_value"]
    header, rows, summary_header, summary = parse(content)
    assert header == ALL
    reversal = [r for r in rows if r[9] == "REVOKED"]
    assert len(reversal) == 1
    rev = reversal[0]
    # The reversal returns the codepay money under the original order number.
    assert rev[0] == stamp(10, 6) and rev[6] == "SBXBILLM1" and rev[5] == m1["transaction_id"]
    assert (rev[12], rev[15], rev[16], rev[18], rev[19], rev[22], rev[24], rev[25]) == (
        "0.00",
        "SBXBILLM1",
        "5.00",
        "ORIGINAL",
        "SUCCESS",
        "-0.03000",
        "0.00",
        "5.00",
    )
    assert [r for r in rows if r[9] != "REVOKED"] == expected
    assert not {"SBXBILLM2", "SBXBILLC1", "SBXBILLN2"} & {r[6] for r in rows}
    assert summary_header == SUMMARY_ALL
    assert summary == ["6", "17.50", "10.00", "0.00", "0.05000", "17.50", "10.00"]

    meta, content = await _bill(sandbox, f"bill_date={DAY}&bill_type=SUCCESS&tar_type=GZIP")
    plain = gzip.decompress(content)
    assert hashlib.sha1(plain).hexdigest() == meta["hash_value"]
    assert hashlib.sha1(content).hexdigest() != meta["hash_value"]
    header, rows, summary_header, summary = parse(plain)
    assert header == SUCCESS and summary_header == SUMMARY_SUCCESS
    assert [r[6] for r in rows] == ["SBXBILLN1", "SBXBILLM1", "SBXBILLM3"]
    assert all(len(r) == 20 and r[9] == "SUCCESS" for r in rows)
    assert summary == ["3", "17.50", "0.11000", "17.50"]

    meta, content = await _bill(sandbox, f"bill_date={DAY}&bill_type=REFUND")
    header, rows, summary_header, summary = parse(content)
    assert header == REFUND and summary_header == SUMMARY_ALL
    assert [(r[0], r[14], r[15], r[17]) for r in rows] == [
        (stamp(10, 1), stamp(10, 1), stamp(10, 1, 3), "RFBILLN1A"),
        (stamp(10, 3), stamp(10, 3), stamp(10, 3, 3), "RFBILLN1B"),
        (stamp(10, 6), stamp(10, 6), stamp(10, 6), "SBXBILLM1"),
    ]
    assert summary == ["3", "0.00", "10.00", "0.00", "-0.06000", "0.00", "10.00"]

    # The next day holds the after-midnight payment and the late refund of yesterday's order.
    sandbox.clock.advance(86400)
    _, content = await _bill(sandbox, f"bill_date={(START + timedelta(days=1)).date().isoformat()}")
    _, rows, _, summary = parse(content)
    assert [(r[6], r[9]) for r in rows] == [("SBXBILLN2", "SUCCESS"), ("SBXBILLN1", "REFUND")]
    assert summary == ["2", "42.00", "1.00", "0.00", "0.24000", "42.00", "1.00"]


async def test_bill_request_errors(sandbox: Sandbox) -> None:
    async def code(query: str) -> tuple[int, str]:
        target = f"/v3/bill/tradebill?{query}" if query else "/v3/bill/tradebill"
        response = await sandbox.wechat.request("GET", target)
        return response.status_code, response.json()["code"]

    assert await code("bill_date=2026-11-21") == (400, "PARAM_ERROR")  # the future
    assert await code("bill_date=2026-1-2") == (400, "PARAM_ERROR")
    assert await code("bill_date=2026-07-01") == (400, "PARAM_ERROR")  # over 3 months ago
    assert await code("") == (400, "PARAM_ERROR")
    assert await code("bill_date=2026-11-19") == (400, "NO_STATEMENT_EXIST")
    assert await code("bill_date=2026-11-19&bill_type=NONSENSE") == (400, "PARAM_ERROR")
    assert await code("bill_date=2026-11-19&tar_type=ZIP") == (400, "PARAM_ERROR")


async def test_download_url_needs_a_signature_and_expires(sandbox: Sandbox) -> None:
    url = (await sandbox.wechat.native("SBXBILLD1", 100)).json()["code_url"]
    await sandbox.pay(url)
    meta = (await sandbox.wechat.request("GET", f"/v3/bill/tradebill?bill_date={DAY}")).json()
    parts = urlsplit(meta["download_url"])
    target = f"{parts.path}?{parts.query}"
    anonymous = await sandbox.http.get(target, headers={"Accept": "application/json"})
    assert anonymous.status_code == 401
    sandbox.clock.advance(301)
    expired = await sandbox.wechat.request("GET", target)
    assert expired.status_code == 400
    unknown = await sandbox.wechat.request("GET", "/v3/billdownload/file?token=nope")
    assert unknown.status_code == 400
