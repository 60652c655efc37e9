"""What a person does in the console, in the browser: sign in, read a figure, take a screenshot."""

from __future__ import annotations

import os
from pathlib import Path

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from pos_app.domain.money import format_fen


def sign_in(driver: webdriver.Chrome, base: str, name: str, password: str) -> None:
    driver.get(base + "/login")
    driver.find_element(By.ID, "name").send_keys(name)
    driver.find_element(By.ID, "password").send_keys(password)
    driver.find_element(By.ID, "sign-in").click()
    WebDriverWait(driver, 15).until(lambda d: d.find_elements(By.ID, "who") or d.find_elements(By.ID, "error"))


def text_of(driver: webdriver.Chrome, element_id: str) -> str:
    return str(WebDriverWait(driver, 15).until(ec.presence_of_element_located((By.ID, element_id))).text)


def wait_for_text(driver: webdriver.Chrome, element_id: str, expected: str, timeout_s: float = 20) -> None:
    """Wait until the element reads ``expected`` — across swaps of the page's live part (a swapped-out
    element is stale: it is looked up again)."""
    WebDriverWait(driver, timeout_s, ignored_exceptions=[StaleElementReferenceException]).until(
        lambda d: d.find_element(By.ID, element_id).text == expected,
        f"#{element_id} never read {expected!r}",
    )


def table_rows(driver: webdriver.Chrome, table_id: str) -> list[list[str]]:
    table = driver.find_element(By.ID, table_id)
    return [
        [cell.text for cell in row.find_elements(By.TAG_NAME, "td")]
        for row in table.find_elements(By.CSS_SELECTOR, "tbody tr")
    ]


def money(fen: int) -> str:
    return format_fen(fen)


def screenshot(driver: webdriver.Chrome, name: str) -> None:
    """Save the README's screenshot when asked (``POS_SCREENSHOTS=assets``, a directory): a plain
    test run leaves the checkout's tracked files alone."""
    if not os.environ.get("POS_SCREENSHOTS"):
        return
    folder = Path(os.environ["POS_SCREENSHOTS"])
    folder.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(folder / name))
