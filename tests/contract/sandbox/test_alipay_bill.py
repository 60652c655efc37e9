"""The simulated Alipay daily trade bill (spec alipay-f2f.md §5), checked against what the sandbox
answered during a day of payments, partial refunds, cancelled and closed trades.

Requests are signed by hand here (spec §1), responses verified over their raw text (spec §2); the
ZIP is opened with the standard library and decoded from GBK by this test.
"""

from __future__ import annotations

import base64
import io
import json
import re
import shutil
import zipfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from pos_app.config import load_settings
from pos_app.domain.china_time import CHINA_TZ
from pos_app.sandbox.app import create_app
from pos_app.sandbox.clock import ManualClock
from pos_app.sandbox.context import SandboxContext
from pos_app.sandbox.demo import init_demo_profile

DAY = datetime(2026, 11, 20, 9, 30, 0, tzinfo=CHINA_TZ)
DETAIL_HEADER = (
    "支付宝交易号,商户订单号,业务类型,商品名称,创建时间,完成时间,门店编号,门店名称,操作员,终端号,对方账户,"
    "订单金额（元）,商家实收（元）,支付宝红包（元）,集分宝（元）,支付宝优惠（元）,商家优惠（元）,券核销金额（元）,"
    "券名称,商家红包消费金额（元）,卡消费金额（元）,退款批次号/请求号,服务费（元）,分润（元）,备注"
)
SUMMARY_HEADER = (
    "门店编号,门店名称,交易订单总笔数,退款订单总笔数,订单金额（元）,商家实收（元）,支付宝优惠（元）,商家优惠（元）,"
    "卡消费金额（元）,服务费（元）,分润（元）,实收净额（元）"
)
TEXT_COLUMNS = {0, 1, 2, 6, 7, 8, 9, 10, 19, 21}


def _sign(key: rsa.RSAPrivateKey, params: dict[str, str]) -> str:
    content = "&".join(f"{k}={params[k]}" for k in sorted(params) if k != "sign" and params[k] != "")
    return base64.b64encode(key.sign(content.encode(), padding.PKCS1v15(), hashes.SHA256())).decode()


@dataclass
class Client:
    http: httpx.AsyncClient
    ctx: SandboxContext
    clock: ManualClock
    app_key: rsa.RSAPrivateKey
    gateway_key: rsa.RSAPublicKey
    app_id: str

    async def raw(self, method: str, biz: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        now = datetime.fromtimestamp(self.clock.now(), CHINA_TZ)
        params = {
            "app_id": self.app_id,
            "method": method,
            "charset": "utf-8",
            "sign_type": "RSA2",
            "timestamp": now.strftime("%Y-%m-%d %H:%M:%S"),
            "version": "1.0",
            "biz_content": json.dumps(biz, ensure_ascii=False),
        }
        params["sign"] = _sign(self.app_key, params)
        response = await self.http.post(
            "/gateway.do", content=urlencode(params), headers={"Content-Type": "application/x-www-form-urlencoded"}
        )
        text = response.text
        key = method.replace(".", "_") + "_response"
        start = text.index(f'"{key}":') + len(key) + 3
        end = text.rindex(',"sign":"')
        document = json.loads(text)
        signature = base64.b64decode(document["sign"])
        self.gateway_key.verify(signature, text[start:end].encode(), padding.PKCS1v15(), hashes.SHA256())
        return text, dict(document[key])

    async def call(self, method: str, biz: dict[str, Any]) -> dict[str, Any]:
        return (await self.raw(method, biz))[1]

    async def at(self, hour: int, minute: int, day: datetime = DAY) -> None:
        target = day.replace(hour=hour, minute=minute, second=0)
        assert target.timestamp() >= self.clock.now()
        self.clock.set(target.timestamp())
        await self.ctx.step()

    async def bar_pay(self, otn: str, amount: str, subject: str, **code: Any) -> dict[str, Any]:
        answer = await self.http.post("/sandbox/authcodes", json={"channel": "alipay", **code})
        biz = {
            "out_trade_no": otn,
            "total_amount": amount,
            "subject": subject,
            "scene": "bar_code",
            "auth_code": answer.json()["auth_code"],
            "store_id": "S00001",
            "operator_id": "cashier1",
            "terminal_id": "T001",
        }
        return await self.call("alipay.trade.pay", biz)

    async def refund(self, otn: str, amount: str, request_no: str) -> dict[str, Any]:
        reply = await self.call(
            "alipay.trade.refund", {"out_trade_no": otn, "refund_amount": amount, "out_request_no": request_no}
        )
        assert reply["code"] == "10000", reply
        return reply


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[Client]:
    home = init_demo_profile(tmp_path / "profile").home
    clock = ManualClock(start=DAY.timestamp())
    app = create_app(load_settings(home / "pos.toml"), clock=clock)
    app_key = serialization.load_pem_private_key((home / "keys" / "alipay_app_key.pem").read_bytes(), None)
    gateway_key = serialization.load_pem_public_key((home / "keys" / "alipay_public_key.pem").read_bytes())
    assert isinstance(app_key, rsa.RSAPrivateKey) and isinstance(gateway_key, rsa.RSAPublicKey)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sandbox.test") as http:
        yield Client(http, app.state.ctx, clock, app_key, gateway_key, app.state.ctx.keys.alipay.app_id)
    shutil.rmtree(home, ignore_errors=True)


@dataclass
class Expected:
    kind: str
    trade_no: str
    out_trade_no: str
    finished: str
    amount: str
    request_no: str = ""


async def _a_day_of_business(c: Client) -> list[Expected]:
    """Payments, partial refunds, a cancelled and a closed trade; returns the rows the bill must hold."""
    rows: list[Expected] = []
    a = await c.bar_pay("DAYA0001", "10.00", "拿铁")
    assert a["code"] == "10000"
    rows.append(Expected("交易", a["trade_no"], "DAYA0001", a["gmt_payment"], "10.00"))

    await c.at(10, 5)
    qr = (
        await c.call(
            "alipay.trade.precreate",
            {"out_trade_no": "DAYB0001", "total_amount": "20.00", "subject": "蛋糕", "store_id": "S00001"},
        )
    )["qr_code"]
    assert (await c.http.post("/sandbox/pay", json={"qr": qr, "after_s": 30})).json()["ok"]
    await c.at(10, 6)
    b = await c.call("alipay.trade.query", {"out_trade_no": "DAYB0001"})
    assert b["trade_status"] == "TRADE_SUCCESS"
    rows.append(Expected("交易", b["trade_no"], "DAYB0001", b["send_pay_date"], "20.00"))

    await c.at(10, 30)  # C: the buyer never confirms; the till cancels (closed, no money moved)
    assert (await c.bar_pay("DAYC0001", "4.00", "果汁", password_seconds=600))["code"] == "10003"
    assert (await c.call("alipay.trade.cancel", {"out_trade_no": "DAYC0001"}))["action"] == "close"

    await c.at(10, 40)  # D: scanned, never paid, closed by the till
    qr_d = (
        await c.call("alipay.trade.precreate", {"out_trade_no": "DAYD0001", "total_amount": "6.00", "subject": "茶"})
    )["qr_code"]
    assert (await c.http.post("/sandbox/pay", json={"qr": qr_d, "fail": "cancel"})).json()["ok"] is False
    assert (await c.call("alipay.trade.close", {"out_trade_no": "DAYD0001"}))["code"] == "10000"

    await c.at(11, 0)
    r = await c.refund("DAYA0001", "2.50", "RA1")
    rows.append(Expected("退款", a["trade_no"], "DAYA0001", r["gmt_refund_pay"], "-2.50", "RA1"))
    await c.at(12, 0)
    r = await c.refund("DAYB0001", "5.00", "RB1")
    rows.append(Expected("退款", b["trade_no"], "DAYB0001", r["gmt_refund_pay"], "-5.00", "RB1"))
    await c.at(13, 0)
    r = await c.refund("DAYB0001", "3.00", "RB2")
    rows.append(Expected("退款", b["trade_no"], "DAYB0001", r["gmt_refund_pay"], "-3.00", "RB2"))

    await c.at(14, 0)  # E: paid, then cancelled by the till: the cancel refunds it
    e = await c.bar_pay("DAYE0001", "7.00", "三明治")
    rows.append(Expected("交易", e["trade_no"], "DAYE0001", e["gmt_payment"], "7.00"))
    await c.at(14, 1)
    cancel = await c.call("alipay.trade.cancel", {"out_trade_no": "DAYE0001"})
    assert cancel["action"] == "refund"
    rows.append(Expected("退款", e["trade_no"], "DAYE0001", cancel["gmt_refund_pay"], "-7.00", "DAYE0001"))

    await c.at(23, 59)  # F: paid a minute before midnight, refunded the next day
    f = await c.bar_pay("DAYF0001", "1.00", "水")
    rows.append(Expected("交易", f["trade_no"], "DAYF0001", f["gmt_payment"], "1.00"))
    await c.at(0, 30, DAY + timedelta(days=1))
    await c.refund("DAYF0001", "1.00", "RF1")  # belongs to the next day's bill
    return rows


def _split(csv_text: str) -> list[str]:
    assert csv_text.endswith("\r\n")
    return csv_text[:-2].split("\r\n")


async def test_daily_bill_matches_what_the_gateway_recorded(client: Client) -> None:
    expected = await _a_day_of_business(client)
    await client.at(9, 15, DAY + timedelta(days=1))
    text, reply = await client.raw(
        "alipay.data.dataservice.bill.downloadurl.query", {"bill_type": "trade", "bill_date": "2026-11-20"}
    )
    assert reply["code"] == "10000"
    url = reply["bill_download_url"]
    assert "\\/alipay\\/downloadBillFile.resource" in text  # slashes escaped in the signed text
    account = client.ctx.keys.alipay.seller_id + "0156"
    assert f"downloadFileName={account}_20261120.csv.zip" in url
    download = await client.http.get(urlsplit(url).path + "?" + urlsplit(url).query)
    assert download.status_code == 200 and download.headers["content-type"] == "application/zip"

    archive = zipfile.ZipFile(io.BytesIO(download.content))
    detail_name = f"{account}_20261120_业务明细.csv"
    summary_name = f"{account}_20261120_业务明细(汇总).csv"
    infos = archive.infolist()
    for info in infos:
        assert info.flag_bits & 0x800 == 0  # no UTF-8 flag: the names are GBK bytes
    raw_names = [info.filename.encode("cp437") for info in infos]  # zipfile decoded them as cp437
    assert raw_names == [detail_name.encode("gbk"), summary_name.encode("gbk")]

    detail = _split(archive.read(infos[0]).decode("gbk"))
    assert detail[0] == "#支付宝业务明细查询"
    assert detail[1] == f"#账号：[{account}]"
    assert detail[2] == "#起始日期：[2026年11月20日 00:00:00]   终止日期：[2026年11月21日 00:00:00]"
    assert detail[3] == "#" + "-" * 41 + "业务明细列表" + "-" * 40
    assert detail[4] == DETAIL_HEADER
    end = detail.index("#" + "-" * 41 + "业务明细列表结束" + "-" * 36)
    table = [line.split(",") for line in detail[5:end]]
    assert all(len(cells) == 25 for cells in table)
    for cells in table:
        for i, cell in enumerate(cells):
            assert cell.endswith("\t") == (i in TEXT_COLUMNS), (i, cell)
    got = [Expected(c[2].strip(), c[0].strip(), c[1].strip(), c[5], c[12], c[21].strip()) for c in table]
    order = sorted(expected, key=lambda x: (x.finished, x.kind != "交易"))
    assert got == order
    for cells in table:
        assert cells[11] == cells[12]  # 订单金额 = 商家实收 (no discounts in the sandbox)
    # Cancelled-unpaid C, closed D and the next day's refund of F are not money moved this day.
    assert not {"DAYC0001", "DAYD0001"} & {e.out_trade_no for e in got}
    assert detail[end + 1] == "#交易合计：4笔，商家实收共38.00元，商家优惠共0.00元"
    assert detail[end + 2] == "#退款合计：4笔，商家实收退款共-17.50元，商家优惠退款共0.00元"
    assert detail[end + 3] == "#导出时间：[2026年11月21日 09:15:00]"
    assert len(detail) == end + 4

    summary = _split(archive.read(infos[1]).decode("gbk"))
    assert summary[0] == "#支付宝业务汇总查询"
    assert summary[3] == "#" + "-" * 41 + "业务汇总列表" + "-" * 40
    assert summary[4] == SUMMARY_HEADER
    total = next(line for line in summary if line.startswith("合计"))
    assert total == "合计,,4,4,20.50,20.50,0.00,0.00,0.00,0.00,0.00,20.50"
    assert summary[-2] == "#" + "-" * 40 + "业务汇总列表结束" + "-" * 37
    assert summary[-1] == "#导出时间：[2026年11月21日 09:15:00]"
    store_rows = summary[5 : summary.index(total)]
    assert sum(int(re.split(",", line)[2]) for line in store_rows) == 4

    # The engine's own parser (written separately from the same spec) reads this bill and its totals.
    from pos_app.engine.reconcile.alipay_bill import parse_alipay_bill_zip

    bill = parse_alipay_bill_zip(download.content)
    assert bill.summary["交易笔数"] == 4 and bill.summary["退款商家实收"] == -1750


async def test_bill_not_exist_and_url_expiry(client: Client) -> None:
    assert (await client.bar_pay("NB0001", "1.00", "水"))["code"] == "10000"

    async def ask(bill_date: str, bill_type: str = "trade") -> dict[str, Any]:
        return await client.call(
            "alipay.data.dataservice.bill.downloadurl.query", {"bill_type": bill_type, "bill_date": bill_date}
        )

    today = await ask("2026-11-20")  # not ready until the day is over
    assert (today["code"], today["sub_code"]) == ("40004", "isp.bill_not_exist")
    await client.at(10, 0, DAY + timedelta(days=1))
    assert (await ask("2026-11-19"))["sub_code"] == "isp.bill_not_exist"  # no business that day
    assert (await ask("2026-11"))["sub_code"] == "isp.bill_not_exist"  # no monthly bills here
    assert (await ask("2026-11-20", "nonsense"))["sub_code"] == "isv.invalid-parameter"
    reply = await ask("2026-11-20")
    assert reply["code"] == "10000"
    url = urlsplit(reply["bill_download_url"])
    client.clock.advance(31)  # valid 30 s
    assert (await client.http.get(url.path + "?" + url.query)).status_code == 404
    assert (await client.http.get(url.path + "?fileId=forged")).status_code == 404
