"""`ops dashboard`'s page in a real browser (Debian's headless Chromium, driven by Selenium)
while a real `ops up` runs on the local clusters: a path turns from rolling out to done, a failed
path shows its reason, the page shows each state change within a second of the engine, and the
end is saved as docs/dashboard.png for the README."""

from __future__ import annotations

import copy
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from statistics import median

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from deploypaths.mock_run import PROJECT_DIR
from ops import events
from tests.support.engine import Deployed, deployed_stack, stack_config
from tests.support.sandbox import Sandbox

STACK = "dashboard"
REGISTRY = "registry.example.com/shop"
FIRST, SECOND = "us-east-1", "eu-west-1"
CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
SCREENSHOT = PROJECT_DIR / "docs" / "dashboard.png"
# Long enough for a rollout (pods Ready after 3 s), short for the one that never is.
TIMEOUT = 40
BASE = stack_config(
    STACK,
    regions=[{"name": FIRST}, {"name": SECOND}],
    waves=[[FIRST], [SECOND]],
    kubernetes={**stack_config(STACK)["kubernetes"], "rollout_timeout_seconds": TIMEOUT},
)
WAIT_SECONDS = 240
# The engine stamps its events in whole seconds: a change can look up to 1 s older than it is.
STAMP_SECONDS = 1.0


@pytest.fixture(scope="module")
def stack(project: Sandbox) -> Iterator[Deployed]:
    """The stack on its clusters after a first `ops up` (so the page has an update to show)."""
    for deployed in deployed_stack(project, STACK, BASE):
        first = project.ops("up", "--stack", STACK, "--yes")
        assert first.returncode == 0, first.stdout + first.stderr
        yield deployed


@pytest.fixture(scope="module")
def dashboard(stack: Deployed) -> Iterator[str]:
    """`ops dashboard` of the stack on a free port; its URL. Stopped as Ctrl-C stops it."""
    server = subprocess.Popen(
        [sys.executable, "-m", "ops", "dashboard", "--stack", STACK, "--port", "0",
         "--latency", str(PROJECT_DIR / "local" / "latency.json")],
        cwd=PROJECT_DIR, env=stack.project.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        line = server.stdout.readline() if server.stdout else ""
        assert "http://127.0.0.1:" in line, line + (server.stderr.read() if server.stderr else "")
        yield line.split(": ", 1)[1].strip()
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    assert server.returncode == 0, server.stderr.read() if server.stderr else ""


@pytest.fixture(scope="module")
def browser(tmp_path_factory) -> Iterator[webdriver.Chrome]:
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.fail("no chromium/chromedriver: run `make setup` (it installs them)", pytrace=False)
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                     "--window-size=1400,760"):  # fmt: skip
        options.add_argument(argument)
    # Chromium leaves its singleton-lock folder in TMPDIR after it quits: one of the test's own.
    scratch = {"TMPDIR": str(tmp_path_factory.mktemp("chromium"))}
    service = Service(executable_path=str(CHROMEDRIVER), env={**os.environ, **scratch})
    driver = webdriver.Chrome(service=service, options=options)
    try:
        yield driver
    finally:
        driver.quit()


class Arrivals:
    """When each event's line appears in the running update's recording (polled every 10 ms):
    the engine's side of the latency, finer than its whole-second timestamps."""

    def __init__(self, directory: Path) -> None:
        self.directory, self.seen = directory, {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        sizes: dict[Path, int] = {}
        while not self._stop.wait(0.01):
            for path in self.directory.glob("*.jsonl.partial"):
                try:
                    text = path.read_text()
                except OSError:
                    continue
                if len(text) == sizes.get(path):
                    continue
                sizes[path], now = len(text), time.time()
                for line in text.splitlines():
                    sequence = line.split('"sequence": ', 1)[-1].split(",", 1)[0].rstrip("}")
                    if sequence.isdigit():
                        self.seen.setdefault(int(sequence), now)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def state_of(driver: webdriver.Chrome, path: str) -> str | None:
    rows = driver.find_elements(By.CSS_SELECTOR, f'.row[data-path="{path}"]')
    return rows[0].get_attribute("data-state") if rows else None


def release(config: dict, **tags: str) -> dict:
    config = copy.deepcopy(config)
    for service in config["services"]:
        if service["name"] in tags:
            service["image"] = f"{REGISTRY}/{service['name']}:{tags[service['name']]}"
    return config


def test_the_page_follows_an_update_as_it_runs(stack, dashboard, browser):
    browser.get(dashboard)
    wait = WebDriverWait(browser, WAIT_SECONDS, poll_frequency=0.2)
    # No update runs: the page shows the first one, done.
    wait.until(lambda d: state_of(d, f"catalog@{FIRST}") == "done")
    stack.configure(release(BASE, catalog="5.1.0", auth="3.3.0-never-ready"))
    recordings = stack.project.root / ".state" / "events" / STACK
    arrivals = Arrivals(recordings)
    log = stack.project.root / "up.log"
    with log.open("w") as output:
        up = subprocess.Popen(
            [sys.executable, "-m", "ops", "up", "--stack", STACK, "--yes", "--on-failure", "leave"],
            cwd=PROJECT_DIR, env=stack.project.env, stdout=output, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    try:
        wait.until(lambda d: d.find_element(By.ID, "update").text == "2")
        wait.until(lambda d: state_of(d, f"catalog@{FIRST}") == "rolling out")
        wait.until(lambda d: state_of(d, f"catalog@{FIRST}") == "done")
        wait.until(lambda d: state_of(d, f"auth@{FIRST}") == "failed")
        wait.until(lambda d: d.find_element(By.ID, "status").text == "failed")
        assert up.wait(timeout=WAIT_SECONDS) == 1, log.read_text()
    finally:
        if up.poll() is None:
            os.killpg(up.pid, signal.SIGTERM)
            up.wait()
        arrivals.stop()
    assert browser.find_element(By.ID, "update").text == "2"
    auth = browser.find_element(By.CSS_SELECTOR, f'.row[data-path="auth@{FIRST}"] .message').text
    # The engine's own reason, as the update recorded it.
    recorded = events.parse_update(events.read_events(recordings / "2.jsonl"))
    reason = next(r for urn, r in recorded.reasons.items() if f"{FIRST}-auth-deployment" in urn)
    assert auth == reason and "timed out" in auth, auth
    assert state_of(browser, f"orders@{FIRST}") == "held"
    assert state_of(browser, "gate-after-wave-1") == "held"
    held = browser.find_element(By.CSS_SELECTOR, f'.row[data-path="orders@{FIRST}"] .state').text
    assert held == f"held: waits for auth@{FIRST}", held
    changed = browser.find_elements(By.CSS_SELECTOR, ".row.changed")
    assert {row.get_attribute("data-path") for row in changed} >= {
        f"auth@{FIRST}",
        f"catalog@{FIRST}",
    }
    SCREENSHOT.parent.mkdir(exist_ok=True)
    browser.save_screenshot(str(SCREENSHOT))

    shown = browser.execute_script("return window.dashboardLog")
    changes = [entry for entry in shown if entry["event"]]
    catalog = [e["state"] for e in changes if e["path"] == f"catalog@{FIRST}"]
    assert "rolling out" in catalog and catalog[-1] == "done", catalog
    from_stamp = [e["shown"] - e["event"]["timestamp"] for e in changes]
    from_line = [
        e["shown"] - arrivals.seen[e["event"]["sequence"]]
        for e in changes
        if e["event"]["sequence"] in arrivals.seen
    ]
    print(
        f"\nengine -> page, {len(changes)} state changes: from the event's timestamp median "
        f"{median(from_stamp):.2f} s, max {max(from_stamp):.2f} s (whole-second stamps: up to "
        f"{STAMP_SECONDS:.0f} s of that is rounding); from the event's line in the recording "
        f"median {median(from_line):.2f} s, max {max(from_line):.2f} s"
    )
    assert len(from_line) == len(changes), (len(from_line), len(changes))
    assert max(from_line) < 1.0, from_line
    assert max(from_stamp) < 1.0 + STAMP_SECONDS, from_stamp
