"""A headless Chromium for the page tests (selenium + Debian's chromium-driver).

`make setup` installs both with apt-get, the way it installs Graphviz's `dot`. Here they
are installed too when missing and apt-get can run (as root or through passwordless
sudo). The tests skip, saying why, only when neither a browser nor apt-get is available;
when apt-get is there but the install cannot run or fails, they fail and say what to do.
selenium is given the system chromedriver's path, so selenium-manager never downloads one.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

DRIVERS = ("/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver")
BROWSERS = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")


def _find(names: tuple[str, ...], program: str) -> str | None:
    return next((p for p in names if os.access(p, os.X_OK)), None) or shutil.which(program)


def _apt_install() -> str:
    """Try apt-get (root or sudo -n); return what happened, for the skip reason."""
    if not shutil.which("apt-get"):
        return "apt-get is not available"
    if os.geteuid() == 0:
        prefix = []
    elif shutil.which("sudo") and subprocess.run(["sudo", "-n", "true"],
                                                 capture_output=True).returncode == 0:
        prefix = ["sudo", "-n"]
    else:
        return "apt-get needs root or passwordless sudo"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update", "-qq"],
                ["apt-get", "install", "-y", "-qq", "chromium", "chromium-driver"]):
        r = subprocess.run(prefix + cmd, capture_output=True, text=True, env=env)
        if r.returncode != 0:
            return f"{' '.join(cmd)} failed: {r.stderr.strip()[-300:]}"
    return "installed"


def find_chromium() -> tuple[str, str]:
    """(browser, driver) paths, installing them with apt-get if needed; skips the tests
    when there is neither a browser nor apt-get, fails them when the install fails."""
    browser, driver = _find(BROWSERS, "chromium"), _find(DRIVERS, "chromedriver")
    if browser and driver:
        return browser, driver
    if not shutil.which("apt-get"):
        pytest.skip("no headless Chromium + chromedriver and no apt-get to install them: "
                    "the browser tests of the explorer and replay pages cannot run here")
    result = _apt_install()
    browser, driver = _find(BROWSERS, "chromium"), _find(DRIVERS, "chromedriver")
    if browser and driver:
        return browser, driver
    pytest.fail(f"Chromium and chromedriver are missing and could not be installed "
                f"({result}): run 'sudo apt-get install chromium chromium-driver' or "
                "'make setup'", pytrace=False)


@pytest.fixture(scope="session")
def driver():
    """One headless Chromium for the session, logging the page's console."""
    try:
        from selenium import webdriver
    except ImportError:
        pytest.fail("selenium is missing (it is in the dev extra): pip install -e '.[dev]' "
                    "or 'make setup'", pytrace=False)
    browser, chromedriver = find_chromium()
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                "--window-size=1400,900", "--disable-gpu"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    from selenium.webdriver.chrome.service import Service
    d = webdriver.Chrome(service=Service(executable_path=chromedriver), options=options)
    yield d
    d.quit()


def open_page(driver, path: str | Path, timeout: float = 120.0):
    """Load a page from disk and wait until it says it has drawn itself."""
    from selenium.webdriver.support.ui import WebDriverWait
    driver.get_log("browser")  # drop what earlier pages logged
    driver.get(Path(path).resolve().as_uri())
    WebDriverWait(driver, timeout).until(
        lambda d: d.execute_script("return document.body.dataset.ready === '1'"))
    return driver


def console_errors(driver) -> list[dict]:
    return [e for e in driver.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]


def screenshot(driver, path: str | Path) -> None:
    driver.save_screenshot(str(path))
