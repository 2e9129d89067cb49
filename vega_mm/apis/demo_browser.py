"""The demo page (``tools/demo_app.py``) driven in headless Chromium, for its latency
benchmark (``tools/benchmarks/bench_demo_latency.py``): start the page, open a browser
(Debian's ``chromium`` and ``chromium-driver``, Selenium: the ``tests`` extra), wait for
a text, open a tab, read a table.
"""
import os
import re
import subprocess
import sys
import time
from typing import Dict, List, Optional, Sequence, Tuple

__all__ = ['CHROMIUM', 'CHROMEDRIVER', 'start_demo_page', 'headless_chromium', 'wait_text',
           'open_tab', 'table_rows']

CHROMIUM, CHROMEDRIVER = '/usr/bin/chromium', '/usr/bin/chromedriver'
#: The rows of a Gradio table in the page (its cells carry their row and column).
_TABLE_JS = """
const out = [];
document.querySelectorAll('#' + arguments[0] + ' [role=gridcell]').forEach(c => {
  const r = +c.dataset.row, k = +c.dataset.col;
  (out[r] = out[r] || [])[k] = c.textContent.trim(); });
return out.filter(r => r);"""
_READY = re.compile(r'ready: the page is at (\S+)')


def start_demo_page(script: str, args: Sequence[str], log_path: str, timeout: float = 300,
                    env: Optional[Dict[str, str]] = None) -> Tuple[subprocess.Popen, str]:
    """Run ``script`` (a checkout's ``tools/demo_app.py``) with ``args``, its output to
    ``log_path``, until it says where the page is; returns (the process, the page's
    address).

    Raises:
        RuntimeError: the page stopped or took longer than ``timeout`` seconds (the
            message holds its log).
    """
    with open(log_path, 'w') as log:
        proc = subprocess.Popen([sys.executable, script, *args], stdout=log,
                                stderr=subprocess.STDOUT, env=env)
    deadline = time.time() + timeout
    while True:
        with open(log_path) as f:
            text = f.read()
        found = _READY.search(text)
        if found:
            return proc, found.group(1)
        if proc.poll() is not None or time.time() > deadline:
            proc.kill()
            raise RuntimeError(f'the page did not start:\n{text}')
        time.sleep(0.5)


def headless_chromium(flags: Sequence[str] = (), chromium: str = CHROMIUM,
                      chromedriver: str = CHROMEDRIVER):
    """A Selenium driver of headless Chromium with the extra command-line ``flags``.

    Raises:
        FileNotFoundError: ``chromium`` or ``chromedriver`` is missing.
    """
    for exe in (chromium, chromedriver):
        if not os.path.exists(exe):
            raise FileNotFoundError(f'{exe} is missing (apt-get install chromium '
                                    'chromium-driver)')
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ('--headless=new', '--no-sandbox', '--disable-dev-shm-usage', *flags):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(chromedriver), options=options)


def wait_text(driver, element_id: str, pattern: str, timeout: float = 180) -> str:
    """The text of ``#element_id`` once it matches ``pattern`` (a regular expression).

    Raises:
        TimeoutError: it did not within ``timeout`` seconds (the message says what it
            said).
    """
    from selenium.common.exceptions import NoSuchElementException
    from selenium.webdriver.common.by import By
    deadline = time.time() + timeout
    text = ''
    while time.time() < deadline:
        try:
            text = driver.find_element(By.ID, element_id).text
        except NoSuchElementException:  # the page is still being built
            text = ''
        if re.search(pattern, text):
            return text
        time.sleep(0.2)
    raise TimeoutError(f'#{element_id} never matched {pattern!r}; it says {text!r}')


def open_tab(driver, name: str) -> None:
    """Click the page's tab ``name``.

    Raises:
        ValueError: the page has no such tab.
    """
    from selenium.webdriver.common.by import By
    for button in driver.find_elements(By.CSS_SELECTOR, 'button[role=tab]'):
        if button.text.strip() == name:
            button.click()
            return
    raise ValueError(f'the page has no tab {name!r}')


def table_rows(driver, element_id: str) -> List[List[str]]:
    """The cells of the Gradio table ``#element_id``, row by row."""
    return driver.execute_script(_TABLE_JS, element_id)
