"""The chain and each simulated day's operations, decided by a seeded random generator (pure, no I/O).

The same ``--seed`` gives the same stores, staff, sales (times, amounts, channels, outcomes), refunds
and voids; only the gateways' transaction ids and the wall-clock milliseconds differ between runs.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum

from pos_app.domain.china_time import CHINA_TZ
from pos_app.domain.routing import Channel
from pos_app.domain.staff import DEMO_STAFF, Role


@dataclass(frozen=True, slots=True)
class Person:
    name: str
    pin: str
    role: Role


@dataclass(frozen=True, slots=True)
class TillSpec:
    store_id: str
    terminal_id: str
    name: str


@dataclass(frozen=True, slots=True)
class StoreSpec:
    store_id: str
    name: str
    tills: tuple[TillSpec, ...]
    staff: tuple[Person, ...]

    @property
    def cashiers(self) -> tuple[Person, ...]:
        return tuple(p for p in self.staff if p.role is Role.CASHIER)

    @property
    def manager(self) -> Person:
        return next(p for p in self.staff if p.role is Role.MANAGER)


def _demo_people() -> tuple[Person, ...]:
    # The default till's training login shows these two: keep them on store S00001.
    return tuple(Person(name, pin, role) for name, pin, role in DEMO_STAFF)


#: Terminal ids are unique across the whole ledger (``terminals.terminal_id`` is its primary key, and a
#: till's key and synced journal are found by it alone), so the second store's tills are T003/T004,
#: named "Till 1"/"Till 2" within their store.
CHAIN: tuple[StoreSpec, ...] = (
    StoreSpec(
        "S00001",
        "Demo Store",
        (TillSpec("S00001", "T001", "Till 1"), TillSpec("S00001", "T002", "Till 2")),
        (*_demo_people(), Person("Li Na", "2345", Role.CASHIER)),
    ),
    StoreSpec(
        "S00002",
        "Riverside Store",
        (TillSpec("S00002", "T003", "Till 1"), TillSpec("S00002", "T004", "Till 2")),
        (
            Person("Wang Fang", "3456", Role.CASHIER),
            Person("Zhao Lei", "4567", Role.CASHIER),
            Person("Chen Jing", "8888", Role.MANAGER),
        ),
    ),
)

#: The console's demo accounts (name, password, store or None for the owner). Public, like the demo
#: staff PINs: this is a sandbox profile, no money moves.
CONSOLE_ACCOUNTS: tuple[tuple[str, str, str | None], ...] = (
    ("owner", "demo-owner-password", None),
    ("demo-manager", "demo-manager-password", "S00001"),
    ("chen.jing", "demo-manager-password", "S00002"),
)

#: What a shift starts with in the drawer, by denomination (fen → pieces): ¥500.
FLOAT_COUNTS: dict[int, int] = {10000: 2, 5000: 4, 2000: 5, 1000: 5, 500: 4, 100: 20, 50: 10, 10: 50}
#: Prices on the shelves (fen); a basket is one to four of them. Multiples of 10 fen: cash is counted in jiao.
PRICES: tuple[int, ...] = (350, 480, 590, 800, 990, 1250, 1580, 1990, 2380, 2990, 3650, 4580, 6880, 9900, 12800)
#: Business hours (China time) and how busy each is.
HOURS: tuple[int, ...] = tuple(range(8, 21))
HOUR_WEIGHTS: tuple[float, ...] = (1, 2, 2, 3, 5, 4, 2, 2, 3, 4, 5, 4, 2)


class Kind(StrEnum):
    CASH = "cash"
    NATIVE = "native"  # the customer scans the till's QR and pays
    NATIVE_UNPAID = "native_unpaid"  # the customer walks away: the cashier cancels, the order is CLOSED
    MICROPAY = "micropay"  # the cashier scans the customer's payment code
    MICROPAY_FAILS = "micropay_fails"  # not enough balance: FAILED
    REFUND = "refund"  # part or all of an earlier paid sale of the day, a manager approving
    VOID_WALLET = "void_wallet"  # a same-day void of a paid wallet sale
    VOID_CASH = "void_cash"


@dataclass(frozen=True, slots=True)
class Op:
    at: datetime  # UTC
    till: TillSpec
    cashier: str
    kind: Kind
    amount_fen: int = 0
    channel: Channel = Channel.CASH
    #: Which earlier sale a refund or void takes: a fraction of the eligible list (chosen when it runs).
    pick: float = 0.0


@dataclass(frozen=True, slots=True)
class DayPlan:
    day: date
    opens_at: datetime  # UTC, shifts open
    closes_at: datetime  # UTC, shifts close and the Z reports
    ops: tuple[Op, ...]


def china_moment(day: date, at: time) -> datetime:
    return datetime.combine(day, at, CHINA_TZ).astimezone(UTC)


def plan_days(days: int, *, last_day: date, seed: int) -> list[DayPlan]:
    """The ``days`` business days ending ``last_day`` (China dates), oldest first."""
    first = last_day - timedelta(days=days - 1)
    return [plan_day(first + timedelta(days=n), seed=seed) for n in range(days)]


def plan_day(day: date, *, seed: int) -> DayPlan:
    rng = random.Random(f"{seed}/{day.isoformat()}")
    weekend = day.weekday() >= 5
    ops: list[Op] = []
    for store in CHAIN:
        for till in store.tills:
            ops.extend(_till_day(rng, day, store, till, weekend=weekend))
    ops.sort(key=lambda op: (op.at, op.till.terminal_id))
    return DayPlan(day, china_moment(day, time(7, 45)), china_moment(day, time(21, 30)), tuple(ops))


def _moment(rng: random.Random, day: date) -> datetime:
    hour = rng.choices(HOURS, weights=HOUR_WEIGHTS)[0]
    return china_moment(day, time(hour, rng.randrange(60), rng.randrange(60)))


def _basket(rng: random.Random) -> int:
    return sum(rng.choice(PRICES) for _ in range(rng.choices((1, 2, 3, 4), weights=(5, 4, 2, 1))[0]))


def till_cashier(store: StoreSpec, till: TillSpec, day: date) -> Person:
    cashiers = store.cashiers
    return cashiers[(day.toordinal() + store.tills.index(till)) % len(cashiers)]


def _till_day(rng: random.Random, day: date, store: StoreSpec, till: TillSpec, *, weekend: bool) -> list[Op]:
    sales = rng.randint(14, 22) * (3 if weekend else 2) // 2
    # One cashier per till per day (one shift); the two swap tills from one day to the next.
    cashier = till_cashier(store, till, day).name
    ops: list[Op] = []
    for _ in range(sales):
        at = _moment(rng, day)
        kind = rng.choices((Kind.CASH, Kind.NATIVE, Kind.MICROPAY), weights=(3, 4, 4))[0]
        channel = Channel.CASH if kind is Kind.CASH else rng.choices((Channel.WECHAT, Channel.ALIPAY), (3, 2))[0]
        ops.append(Op(at, till, cashier, kind, _basket(rng), channel))
    # Now and then: a customer who walks away from the QR, a payment code short of money.
    for kind in (Kind.NATIVE_UNPAID, Kind.MICROPAY_FAILS):
        if rng.random() < 0.6:
            channel = rng.choice((Channel.WECHAT, Channel.ALIPAY))
            ops.append(Op(_moment(rng, day), till, cashier, kind, _basket(rng), channel))
    # After-sales late in the day (they pick among the sales made before them).
    late = [k for k, p in ((Kind.REFUND, 0.8), (Kind.REFUND, 0.3), (Kind.VOID_WALLET, 0.35), (Kind.VOID_CASH, 0.25))
            if rng.random() < p]  # fmt: skip
    for kind in late:
        at = china_moment(day, time(rng.randint(15, 20), rng.randrange(60), rng.randrange(60)))
        ops.append(Op(at, till, cashier, kind, pick=rng.random()))
    return ops
