"""The one-QR (聚合码) and store-QR (台卡) use cases: the pages' tokens, which wallet opened which
order, the gateway order made for that wallet's payer, and "check now" from the page.

No HTTP here (the router is ``engine.pages``). Every value the phone sends back is checked:
``state`` is an HMAC over (token, wallet, time) made with a key derived from the ledger key file
(every engine process of one ledger shares it); the store page's hidden ticket is sealed (AES-GCM)
and binds the token, the wallet and the payer; the result URL carries a MAC over (token, order).
The phone's own result is never believed: "check now" queries the gateway.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select, update

from pos_app.api.schemas import CreatePayment, PaymentView, StoreCode
from pos_app.domain.china_time import CHINA_TZ
from pos_app.domain.errors import InputError
from pos_app.domain.ids import MAX_SEQ, IdKind, make_out_trade_no, parse_trade_no
from pos_app.domain.routing import Channel, PaymentMode
from pos_app.domain.states import SETTLED_STATES, PaymentState
from pos_app.engine.context import EngineContext
from pos_app.engine.errors import IdempotencyConflict, OneQrUnavailable, PaymentNotFound
from pos_app.engine.page_keys import PageKeys, Wallet, new_token
from pos_app.engine.providers.base import GatewayError, OAuthCodeInvalid, TradeResult
from pos_app.engine.providers.web_pay import WebPayClients
from pos_app.engine.settling import Settling
from pos_app.engine.store import repo
from pos_app.engine.store.models import Payment, WalletPage
from pos_app.engine.trades import apply_trade, short_error

log = logging.getLogger(__name__)

#: The engine numbers store-QR orders in the top of the per-terminal sequence space; a till's
#: journal counter starts at 1 and never gets near (ids.py: 8 digits).
STORE_SEQ_FLOOR = 90_000_000
STORE_QR_OPERATOR = "store-qr"
STORE_QR_SUBJECT = "Store QR payment"


class PageProblem(StrEnum):
    """Why a page cannot go on to payment; the router shows each as its own page."""

    UNKNOWN_TOKEN = "unknown_token"  # no such page (a typo, or guessed)
    REPLACED = "replaced"  # a store code the till rotated
    BAD_STATE = "bad_state"  # a state or ticket that is not ours, expired or for another page
    OTHER_WALLET = "other_wallet"  # a one-QR page another wallet opened first
    OTHER_PAYER = "other_payer"  # opened by another customer of the same wallet
    OVER = "over"  # paid, closed or cancelled already
    SIGN_IN = "sign_in"  # the wallet's sign-in failed (expired code…): scan again
    UNAVAILABLE = "unavailable"  # the gateway refused or is not answering
    NOT_SET_UP = "not_set_up"  # the pages are not configured on this engine


class PageError(Exception):
    def __init__(self, problem: PageProblem, payment: PaymentView | None = None) -> None:
        super().__init__(problem.value)
        self.problem = problem
        self.payment = payment


class SignInAgain(Exception):
    """The wallet refused the code (used, expired): send the phone to sign in once more, here."""

    def __init__(self, url: str) -> None:
        super().__init__("sign in again")
        self.url = url


@dataclass(frozen=True, slots=True)
class PageTarget:
    """What a token opens: a one-QR sale's page or a till's store code."""

    token: str
    kind: PaymentMode
    terminal_id: str
    store_id: str
    out_trade_no: str | None


@dataclass(frozen=True, slots=True)
class BridgeData:
    """What the pay page embeds for the wallet's JS bridge (the contract's ``pos-bridge`` JSON)."""

    wallet: Wallet
    payment: PaymentView
    pay: dict[str, str]  # WeChat getBrandWCPayRequest parameters, or {"tradeNO": …} for Alipay
    result_url: str

    def as_json(self) -> dict[str, object]:
        if self.wallet is Wallet.WECHAT:
            return {"app": "wechat", "pay": self.pay, "result_url": self.result_url}
        return {"app": "alipay", "tradeNO": self.pay["tradeNO"], "result_url": self.result_url}


@dataclass(frozen=True, slots=True)
class Checked:
    state: PaymentState
    payment: PaymentView


class WalletPages:
    """One-QR payments, store codes, and what the pages do for the phone."""

    def __init__(self, ctx: EngineContext, settling: Settling, web: WebPayClients, keys: PageKeys) -> None:
        self._ctx = ctx
        self._settling = settling
        self.web = web
        self.keys = keys

    # ------------------------------------------------------------------ availability and URLs

    @property
    def max_amount_fen(self) -> int:
        """The most a customer may type on a store code: the store's per-sale limit."""
        return self._ctx.settings.terminal.max_sale_fen

    def one_qr_problem(self) -> str | None:
        """Why one code for every wallet cannot be shown now (None: it can)."""
        if self.web.problem is not None:
            return self.web.problem
        for channel in (Channel.WECHAT, Channel.ALIPAY):
            guard = self._ctx.guards.get(channel)
            if guard is not None and not guard.breaker.admits():
                return f"{channel.label} is not answering — show the other wallet's code or take cash."
        return None

    def page_url(self, kind: PaymentMode, token: str) -> str:
        prefix = "q" if kind is PaymentMode.ONE_QR else "s"
        return f"{self._ctx.settings.engine.public_url.rstrip('/')}/{prefix}/{token}"

    def result_url(self, target: PageTarget, out_trade_no: str) -> str:
        mac = self.keys.result_mac(target.token, out_trade_no)
        return f"{self.page_url(target.kind, target.token)}/result?o={out_trade_no}&k={mac}"

    # ------------------------------------------------------------------ one-QR payments (the till)

    async def create_one_qr(self, terminal_id: str, store_id: str, req: CreatePayment) -> PaymentView:
        """A sale's one-QR page: channel None until a wallet opens it, code_url the page URL."""
        if req.channel is not None or req.auth_code:
            raise InputError("A one-QR payment takes no channel and no payment code — the customer's wallet decides.")
        ctx = self._ctx
        existing = await ctx.tx.read(repo.get_payment, req.out_trade_no)
        if existing is not None:
            return self._repeat(existing, terminal_id, req)
        problem = self.one_qr_problem()
        if problem is not None:
            raise OneQrUnavailable(problem)
        now = ctx.now()
        token = new_token()
        row = Payment(
            out_trade_no=req.out_trade_no,
            terminal_id=terminal_id,
            store_id=store_id,
            channel=None,
            mode=PaymentMode.ONE_QR.value,
            amount_fen=req.amount_fen,
            subject=req.subject,
            operator=req.operator,
            # The page exists at once: the order waits for a wallet like a shown native code.
            state=PaymentState.AWAITING_SCAN.value,
            business_day=ctx.business_day(now),
            code_url=self.page_url(PaymentMode.ONE_QR, token),
            expires_at=now + ctx.timings.qr_lifetime,
            created_at=now,
            updated_at=now,
        )
        page = WalletPage(
            token=token,
            kind=PaymentMode.ONE_QR.value,
            store_id=store_id,
            terminal_id=terminal_id,
            out_trade_no=req.out_trade_no,
            created_at=now,
        )

        def insert(session: Session) -> PaymentView:
            session.add(row)
            session.add(page)
            session.flush()
            view = repo.payment_view(row)
            repo.append_event(session, view, now)
            return view

        try:
            view = await ctx.tx.write(insert)
        except IntegrityError:  # the same request from another process, a moment earlier
            return self._repeat(await ctx.load_payment(req.out_trade_no), terminal_id, req)
        ctx.wakeup.wake()
        log.info("one-QR payment %s created", req.out_trade_no)
        return view

    @staticmethod
    def _repeat(existing: Payment, terminal_id: str, req: CreatePayment) -> PaymentView:
        same = (
            existing.terminal_id == terminal_id
            and existing.mode == PaymentMode.ONE_QR.value
            and existing.amount_fen == req.amount_fen
            and existing.subject == req.subject
        )
        if not same:
            raise IdempotencyConflict(
                f"Order number {existing.out_trade_no} was already used for a different sale — start a new sale."
            )
        return repo.payment_view(existing)

    # ------------------------------------------------------------------ store codes (the till)

    async def store_code(self, terminal_id: str, store_id: str, *, rotate: bool) -> StoreCode:
        """This till's store code; ``rotate`` replaces it (the old printed code then says so)."""
        ctx = self._ctx
        now = ctx.now()

        def current_or_new(session: Session) -> WalletPage:
            live = session.exec(
                select(WalletPage)
                .where(
                    WalletPage.terminal_id == terminal_id,
                    WalletPage.store_id == store_id,
                    WalletPage.kind == PaymentMode.STORE_QR.value,
                    col(WalletPage.replaced_at).is_(None),
                )
                .with_for_update()
            ).first()
            if live is not None and not rotate:
                return live
            if live is not None:
                live.replaced_at = now
                session.add(live)
            page = WalletPage(
                token=new_token(),
                kind=PaymentMode.STORE_QR.value,
                store_id=store_id,
                terminal_id=terminal_id,
                created_at=now,
            )
            session.add(page)
            session.flush()
            return page

        page = await ctx.tx.write(current_or_new)
        if rotate:
            log.info("store code of terminal %s rotated", terminal_id)
        return StoreCode(
            store_id=store_id,
            terminal_id=terminal_id,
            url=self.page_url(PaymentMode.STORE_QR, page.token),
            created_at=page.created_at,
        )

    async def store_payments(self, terminal_id: str, since: datetime) -> list[PaymentView]:
        """This terminal's store-QR payments changed since ``since``, oldest first (never another's)."""

        def read(session: Session) -> list[PaymentView]:
            rows = session.exec(
                select(Payment)
                .where(
                    Payment.terminal_id == terminal_id,
                    Payment.mode == PaymentMode.STORE_QR.value,
                    col(Payment.updated_at) >= since,
                )
                .order_by(col(Payment.created_at), col(Payment.id))
                .limit(500)
            )
            return [repo.payment_view(p) for p in rows]

        return await self._ctx.tx.read(read)

    # ------------------------------------------------------------------ the pages (the phone)

    async def target(self, token: str) -> PageTarget:
        """What ``token`` opens; PageError for an unknown or replaced one."""
        if not 16 <= len(token) <= 64:
            raise PageError(PageProblem.UNKNOWN_TOKEN)

        def read(session: Session) -> WalletPage | None:
            return session.exec(select(WalletPage).where(WalletPage.token == token)).first()

        page = await self._ctx.tx.read(read)
        if page is None:
            raise PageError(PageProblem.UNKNOWN_TOKEN)
        if page.replaced_at is not None:
            raise PageError(PageProblem.REPLACED)
        return PageTarget(token, PaymentMode(page.kind), page.terminal_id, page.store_id, page.out_trade_no)

    async def sale_of(self, target: PageTarget) -> PaymentView:
        assert target.out_trade_no is not None
        return repo.payment_view(await self._ctx.load_payment(target.out_trade_no))

    def authorize_url(self, target: PageTarget, wallet: Wallet, *, retry: bool = False) -> str:
        """Where the phone signs in silently; it comes back to ``…/{token}/{wallet}`` with a code.
        ``retry``: the one new sign-in after the wallet refused a code (spec: restart once, never
        send the same code again)."""
        if self.web.problem is not None:
            raise PageError(PageProblem.NOT_SET_UP)
        back = f"{self.page_url(target.kind, target.token)}/{wallet.value}"
        state = self.keys.make_state(target.token, wallet, retry=retry)
        if wallet is Wallet.WECHAT:
            assert self.web.wechat_oauth is not None
            return self.web.wechat_oauth.authorize_url(back, state)
        assert self.web.alipay is not None
        from urllib.parse import urlencode

        query = urlencode(
            {"app_id": self.web.alipay.app_id, "scope": "auth_base", "redirect_uri": back, "state": state}
        )
        return f"{self.web.alipay_oauth_url.rstrip('/')}/oauth2/publicAppAuthorize.htm?{query}"

    async def sign_in(self, target: PageTarget, wallet: Wallet, code: str, state: str) -> str:
        """The payer's id from the wallet's OAuth code, after checking ``state``."""
        if not self.keys.check_state(target.token, wallet, state):
            raise PageError(PageProblem.BAD_STATE)
        if not 1 <= len(code) <= 128 or not code.isascii() or not code.replace("-", "").replace("_", "").isalnum():
            raise PageError(PageProblem.SIGN_IN)
        try:
            if wallet is Wallet.WECHAT:
                assert self.web.wechat_oauth is not None
                return await self.web.wechat_oauth.openid(code)
            assert self.web.alipay is not None
            return await self.web.alipay.oauth_token(code)
        except OAuthCodeInvalid:
            if not self.keys.is_retry(state):
                raise SignInAgain(self.authorize_url(target, wallet, retry=True)) from None
            raise PageError(PageProblem.SIGN_IN) from None
        except GatewayError as exc:
            log.warning("%s sign-in failed: %s", wallet.value, exc.code)
            raise PageError(PageProblem.UNAVAILABLE) from None

    def ticket(self, target: PageTarget, wallet: Wallet, payer: str) -> str:
        return self.keys.seal_ticket(target.token, wallet, payer)

    async def open_one_qr(self, target: PageTarget, wallet: Wallet, payer: str, payer_ip: str | None) -> BridgeData:
        """The wallet that opened the sale's page fixes its channel (once), then its gateway order."""
        ctx = self._ctx
        otn = target.out_trade_no
        assert otn is not None
        payer_hash = self.keys.payer_hash(wallet, payer)
        now = ctx.now()

        def claim(session: Session) -> tuple[Payment, PageProblem | None]:
            p = repo.get_payment(session, otn, lock=True)
            page = session.exec(select(WalletPage).where(WalletPage.token == target.token)).first()
            if p is None or page is None:
                raise PaymentNotFound()
            if PaymentState(p.state) in SETTLED_STATES or p.cancel_requested:
                return p, PageProblem.OVER
            if p.channel is None:
                if p.expires_at is not None and now >= p.expires_at:
                    return p, PageProblem.OVER
                if not repo.cas_update_payment(session, p, {"channel": wallet.channel.value}, now):
                    raise PaymentNotFound()  # changed under us (never under the row lock)
                page.channel, page.payer_hash = wallet.channel.value, payer_hash
                session.add(page)
                repo.append_event(session, repo.payment_view(p), now)  # the till: "opened in WeChat"
                return p, None
            if p.channel != wallet.channel.value:
                return p, PageProblem.OTHER_WALLET
            if page.payer_hash != payer_hash:
                return p, PageProblem.OTHER_PAYER
            return p, None

        p, problem = await ctx.tx.write(claim)
        if problem is not None:
            raise PageError(problem, repo.payment_view(p))
        ctx.wakeup.wake()
        ref = await self._gateway_order(p, wallet, payer, payer_ip)
        await ctx.tx.write(_set_bridge_ref, target.token, ref)
        after = await ctx.load_payment(otn)
        if after.cancel_requested or PaymentState(after.state) in SETTLED_STATES:
            # Cancelled by the till while the order was being made: close it at the gateway too.
            if PaymentState(after.state) not in SETTLED_STATES:
                await self._settling.close(after)
            raise PageError(PageProblem.OVER, repo.payment_view(await ctx.load_payment(otn)))
        return self._bridge(target, wallet, repo.payment_view(after), ref)

    async def pay_store(self, target: PageTarget, ticket: str, amount_fen: int, payer_ip: str | None) -> BridgeData:
        """A customer's amount on a store code: a new store_qr payment of the till, then its gateway order."""
        opened = self.keys.open_ticket(target.token, ticket)
        if opened is None:
            raise PageError(PageProblem.BAD_STATE)
        wallet, payer = opened
        ctx = self._ctx
        now = ctx.now()
        for _ in range(3):  # a clash of random sequence numbers is astronomically rare; retried anyway
            otn = self._store_trade_no(target, now)
            row = Payment(
                out_trade_no=otn,
                terminal_id=target.terminal_id,
                store_id=target.store_id,
                channel=wallet.channel.value,
                mode=PaymentMode.STORE_QR.value,
                amount_fen=amount_fen,
                subject=STORE_QR_SUBJECT,
                operator=STORE_QR_OPERATOR,
                state=PaymentState.AWAITING_SCAN.value,
                business_day=ctx.business_day(now),
                code_url=self.page_url(PaymentMode.STORE_QR, target.token),
                expires_at=now + ctx.timings.qr_lifetime,
                created_at=now,
                updated_at=now,
            )

            def insert(session: Session, row: Payment = row) -> Payment:
                session.add(row)
                session.flush()
                repo.append_event(session, repo.payment_view(row), now)  # the till sees it at once
                return row

            try:
                await ctx.tx.write(insert)
                break
            except IntegrityError:
                continue
        else:
            raise PageError(PageProblem.UNAVAILABLE)
        ctx.wakeup.wake()
        log.info("store-QR payment %s for terminal %s (%s)", otn, target.terminal_id, wallet.value)
        p = await ctx.load_payment(otn)
        try:
            ref = await self._gateway_order(p, wallet, payer, payer_ip)
        except PageError:
            result = TradeResult(otn, PaymentState.FAILED, reason="The wallet could not start the payment.")
            await apply_trade(ctx, otn, result, "create_jsapi")
            raise
        return self._bridge(target, wallet, repo.payment_view(await ctx.load_payment(otn)), ref)

    async def check_now(self, target: PageTarget, out_trade_no: str, mac: str) -> Checked:
        """The page says the wallet finished (or not): ask the gateway now; never believe the phone."""
        if not hmac.compare_digest(mac, self.keys.result_mac(target.token, out_trade_no)):
            raise PageError(PageProblem.BAD_STATE)
        p = await self._ctx.load_payment(out_trade_no)
        if p.terminal_id != target.terminal_id:
            raise PageError(PageProblem.BAD_STATE)
        if PaymentState(p.state) not in SETTLED_STATES and p.channel is not None:
            p = await self._settling.query(p)
        return Checked(PaymentState(p.state), repo.payment_view(p))

    # ------------------------------------------------------------------ helpers

    def _store_trade_no(self, target: PageTarget, now: datetime) -> str:
        seq = STORE_SEQ_FLOOR + secrets.randbelow(MAX_SEQ - STORE_SEQ_FLOOR) + 1
        otn = make_out_trade_no(
            store=target.store_id,
            terminal=target.terminal_id,
            seq=seq,
            at=now.astimezone(CHINA_TZ).replace(tzinfo=None),
        )
        assert parse_trade_no(otn).kind is IdKind.PAYMENT
        return otn

    async def _gateway_order(self, p: Payment, wallet: Wallet, payer: str, payer_ip: str | None) -> str:
        """The wallet's order for this payer: WeChat prepay_id or Alipay trade_no."""
        ctx = self._ctx
        otn = p.out_trade_no
        assert p.expires_at is not None
        guard = ctx.guards.get(wallet.channel)
        notify_url = ctx.notify_url(wallet.channel)
        try:
            if wallet is Wallet.WECHAT:
                wechat = self.web.wechat
                assert wechat is not None

                async def jsapi() -> str:
                    return await wechat.create_jsapi(
                        out_trade_no=otn,
                        amount_fen=p.amount_fen,
                        subject=p.subject,
                        notify_url=notify_url,
                        expires_at=p.expires_at or ctx.now(),
                        openid=payer,
                        payer_ip=payer_ip,
                    )

                call = jsapi
            else:
                alipay = self.web.alipay
                assert alipay is not None

                async def create() -> str:
                    return await alipay.create_for_buyer(
                        out_trade_no=otn,
                        amount_fen=p.amount_fen,
                        subject=p.subject,
                        notify_url=notify_url,
                        expires_at=p.expires_at or ctx.now(),
                        buyer=payer,
                    )

                call = create
            ref = await (guard.guarded_create(call) if guard is not None else call())
        except GatewayError as exc:
            await ctx.attempt(otn, "create_page_order", "failed", short_error(exc))
            log.warning("page order %s refused by %s: %s", otn, wallet.value, exc.code)
            raise PageError(PageProblem.UNAVAILABLE, repo.payment_view(p)) from None
        await ctx.attempt(otn, "create_page_order", "ok", wallet.value)
        return ref

    def _bridge(self, target: PageTarget, wallet: Wallet, payment: PaymentView, ref: str) -> BridgeData:
        result_url = self.result_url(target, payment.out_trade_no)
        if wallet is Wallet.WECHAT:
            assert self.web.wechat is not None
            pay = self.web.wechat.bridge_pay(ref).as_bridge()
        else:
            pay = {"tradeNO": ref}
        return BridgeData(wallet, payment, pay, result_url)


def _set_bridge_ref(session: Session, token: str, ref: str) -> None:
    session.exec(update(WalletPage).where(col(WalletPage.token) == token).values(bridge_ref=ref[:64]))
