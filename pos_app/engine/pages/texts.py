"""What the customer reads on the pages, in the phone's language (Accept-Language: Chinese or English).

The engine process has no single reader language, so each page picks its catalog per request. The
constants are marked with ``N_`` (extracted by scripts/i18n) and translated where shown.
"""

from __future__ import annotations

import gettext
from collections.abc import Callable
from functools import cache

from pos_app.i18n import DOMAIN, LOCALE_DIR, N_

Translate = Callable[[str], str]

OPEN_TITLE = N_("Open with WeChat or Alipay")
OPEN_BODY = N_("Scan this code with WeChat or Alipay to pay.")
PAY_TITLE = N_("Pay {amount}")
PAY_WAIT = N_("Confirm the payment in your wallet.")
CHECKING = N_("Checking the payment…")
NET_ERROR = N_("Could not reach the shop — show this screen to the cashier.")
STORE_TITLE = N_("Pay the shop")
STORE_PROMPT = N_("Amount to pay (yuan), e.g. 23.00")
STORE_BUTTON = N_("Pay")
BAD_AMOUNT = N_("Type an amount like 23 or 23.00, at most {limit}.")
PAID = N_("Paid — thank you.")
CANCELLED = N_("Payment cancelled — scan the code again to pay.")
CONFIRMING = N_("Still confirming — show this screen to the cashier.")
FAILED = N_("The payment did not go through — scan the code again or pay another way.")
ERROR_TITLE = N_("Cannot pay with this code")
UNKNOWN_TOKEN = N_("This code is not valid — ask the cashier for a new one.")
REPLACED = N_("This code was replaced — ask the cashier for the new one.")
BAD_STATE = N_("This page has expired — scan the code again.")
OTHER_WALLET = N_("This code was already opened in another wallet — ask the cashier for a new code.")
OTHER_PAYER = N_("Another customer already opened this code — ask the cashier for a new code.")
OVER = N_("This order is no longer open — ask the cashier.")
SIGN_IN = N_("The wallet sign-in expired — scan the code again.")
UNAVAILABLE = N_("The wallet cannot take this payment now — pay the cashier another way.")
TOO_MANY = N_("Too many tries from this phone — wait {seconds} seconds, then try again.")
NOT_SET_UP = N_("This shop does not take payments on this code now — pay the cashier another way.")


def page_language(accept_language: str | None) -> str:
    """``zh_CN`` when the phone prefers Chinese (its first language), else English."""
    first = (accept_language or "").split(",")[0].split(";")[0].strip().lower()
    return "zh_CN" if first.startswith("zh") else "en"


@cache
def translator(language: str) -> Translate:
    return gettext.translation(DOMAIN, LOCALE_DIR, languages=[language], fallback=True).gettext
