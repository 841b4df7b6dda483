"""The status page in a real headless Chromium: key, upload, progress, text, job table.

Real gunicorn and a real worker serve it. Skipped where Chromium, its driver or Selenium
is missing (``apt-get install chromium chromium-driver``; ``uv sync`` installs Selenium).
``FOLIO_DOCS_SCREENSHOT=1`` also writes docs/images/status-page.png.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from conftest import CORPUS, TEST_API_KEY
from testsupport.pdfs import make_pdf, page_text
from testsupport.procs import ROOT, folio_stack, wait_until

pytest.importorskip("folio_worker.cli")
webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,900",
)
#: A one-page LibreOffice document of the shared corpus (lorem ipsum).
CORPUS_PDF = "002-trivial-libre-office-writer.pdf"


@pytest.fixture
def browser(tmp_path):
    if not CHROMIUM or not CHROMEDRIVER:
        pytest.skip("no headless browser: apt-get install -y chromium chromium-driver")
    from selenium.webdriver.chrome.service import Service as DriverService

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*FLAGS, f"--user-data-dir={tmp_path / 'chromium-profile'}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=DriverService(CHROMEDRIVER))
    driver.implicitly_wait(0)
    yield driver
    driver.quit()


@pytest.fixture
def folio(env, db, tmp_path):
    with folio_stack(env, tmp_path) as base:
        yield base


def sample(tmp_path: Path) -> tuple[Path, str]:
    """A PDF to upload and a phrase its text contains: from the corpus when present."""
    if (CORPUS / CORPUS_PDF).exists():
        return CORPUS / CORPUS_PDF, "lorem ipsum"
    path = tmp_path / "generated.pdf"
    path.write_bytes(make_pdf(2))
    return path, page_text(2).lower()


def test_upload_through_the_page_and_read_the_text(browser, folio, tmp_path):
    from selenium.webdriver.common.by import By

    def text_of(element_id: str) -> str:
        return browser.find_element(By.ID, element_id).text

    browser.get(folio + "/")
    assert browser.title.startswith("Folio")
    wait_until(lambda: "health: ok" in text_of("health"), timeout=15)

    # A wrong key is refused visibly; the right one is kept in sessionStorage.
    browser.find_element(By.ID, "key").send_keys("not-the-right-key-at-all")
    browser.find_element(By.ID, "save-key").click()
    wait_until(lambda: text_of("key-state") == "key refused", timeout=10, interval=0.2)
    browser.find_element(By.ID, "key").send_keys(TEST_API_KEY)
    browser.find_element(By.ID, "save-key").click()
    assert browser.execute_script("return sessionStorage.getItem('folio.apiKey')") == TEST_API_KEY

    path, phrase = sample(tmp_path)
    browser.find_element(By.ID, "file").send_keys(str(path))
    wait_until(lambda: text_of("current-status") == "succeeded", timeout=60, interval=0.2)
    wait_until(lambda: phrase in text_of("text").lower(), timeout=10, interval=0.2)
    assert text_of("current-name") == path.name

    # The table of recent jobs lists it, and the fleet figures are filled in.
    wait_until(lambda: path.name in text_of("jobs"), timeout=10, interval=0.2)
    wait_until(lambda: text_of("s-workers") == "1", timeout=15, interval=0.2)
    assert text_of("s-done").startswith("1 · 0")

    shot = tmp_path / "status-page.png"
    browser.save_screenshot(str(shot))
    assert shot.stat().st_size > 10_000
    if os.environ.get("FOLIO_DOCS_SCREENSHOT"):
        target = ROOT / "docs" / "images" / "status-page.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, target)
