"""The agent desk and the trainer's room (``GET /ns/NS/desk``, ``/ns/NS/room``) in a real browser.

One real ``chatemu serve --port 0`` process and one headless Chromium (driven by Playwright) for
the module; each test uses a namespace of its own.  What the page did is checked on the database
with real ``chatemu --db DIR/NS.db`` processes.  The browser tests skip, saying why, when
Playwright or Chromium is missing (``.ci/run`` installs both).
"""

from __future__ import annotations

import itertools
import re
import os
import shutil
import time
from pathlib import Path

import httpx
import pytest

from conftest import START, Chatemu, tls
from test_serve import start_server, stop

CHROMIUM = os.environ.get("CHATEMU_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; "
       "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
SHOTS = Path(os.environ.get("CHATEMU_SCREENSHOTS", "")) if os.environ.get("CHATEMU_SCREENSHOTS") else None
_names = itertools.count(1)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("desk")
    proc, url = start_server("--data-dir", str(folder))
    yield url, folder
    assert stop(proc) == 0
    assert "Traceback" not in proc.stderr.read()


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("Playwright is not installed (pip install playwright)")
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium, or set CHATEMU_CHROMIUM)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


class Space:
    """One namespace: its base URL, the command line on its database, and a browser tab on it."""

    def __init__(self, url: str, folder: Path, browser):
        self.ns = f"d{next(_names)}"
        self.url = url
        self.cli = Chatemu(folder / f"{self.ns}.db")
        self.dialogs, self.errors = [], []
        if browser is not None:
            self.context = browser.new_context(viewport={"width": 1280, "height": 800})
            self.page = self.context.new_page()
            self.page.on("dialog", lambda dialog: (self.dialogs.append(dialog.message), dialog.dismiss()))
            self.page.on("pageerror", lambda error: self.errors.append(str(error)))
            self.page.on("console", lambda msg: self.errors.append(msg.text)
                         if "Content Security Policy" in msg.text else None)

    def open(self, what: str) -> None:
        from playwright.sync_api import expect

        self.page.goto(f"{self.url}/ns/{self.ns}/{what}")
        expect(self.page.locator("#live")).to_have_text("live", timeout=5000)

    def card(self, chat: str):
        return self.page.locator(f'#inbox li[data-chat="{chat}"]')

    def state(self, chat: str) -> str:
        return self.cli.chat(chat)["state"]


@pytest.fixture
def space(server, browser):
    url, folder = server
    made = Space(url, folder, browser)
    made.cli.ok("clock", "set", START)
    made.cli.ok("agent", "login")
    yield made
    made.context.close()
    assert made.errors == [], made.errors


def wait_until(page, script: str, arg=None, timeout: float = 5.0) -> float:
    """Seconds until ``script`` (a JS function of ``arg``) is true in the page, checked every frame."""
    start = time.monotonic()
    page.wait_for_function(script, arg=arg, polling="raf", timeout=timeout * 1000)
    return time.monotonic() - start


# -- the pages over HTTP (no browser) ------------------------------------------------------


@pytest.mark.parametrize("page", ["/ns/demo/desk", "/ns/demo/room", "/"])
def test_the_pages_carry_a_strict_policy_and_no_inline_script_or_style(server, page):
    url, _ = server
    answer = httpx.get(url + page, verify=tls())
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/html")
    assert answer.headers["content-security-policy"] == CSP
    assert answer.headers["x-content-type-options"] == "nosniff"
    html = answer.text
    assert '<script type="module" src="/static/app.js"></script>' in html
    assert "<style" not in html and " style=" not in html and not re.search(r"\son[a-z]+=", html)
    assert html.count("<script") == 1
    for name, kind in (("app.js", "text/javascript"), ("app.css", "text/css")):
        found = httpx.get(f"{url}/static/{name}", verify=tls())
        assert found.status_code == 200 and found.headers["content-type"].startswith(kind)
        assert found.headers["x-content-type-options"] == "nosniff"
    assert "innerHTML" not in httpx.get(f"{url}/static/app.js", verify=tls()).text


@pytest.mark.parametrize("path", ["/static/pages.py", "/static/..%2fpages.py", "/static/desk.html",
                                  "/static/login.html", "/login.html", "/ns/Bad/desk",
                                  "/ns/demo/nothing"])
def test_nothing_else_is_served(server, path):
    url, _ = server
    answer = httpx.get(url + path, verify=tls())
    assert answer.status_code in (400, 404), (path, answer.status_code)
    assert answer.headers["content-type"] == "application/problem+json"


# -- the desk ----------------------------------------------------------------------------------


def test_the_desk_shows_the_inbox_and_its_buttons_change_the_chat(space):
    from playwright.sync_api import expect

    space.cli.ok("chat", "new", "--customer", "Ann Lee", "--queue", "sales")
    space.cli.ok("chat", "new", "--customer", "Bob")
    space.open("desk?agent=agent-1")
    page = space.page
    expect(page.locator("#inbox li")).to_have_count(1)  # C2 waits while C1 is new
    expect(space.card("C1")).to_contain_text("Ann Lee")
    expect(space.card("C1")).to_contain_text("sales")
    expect(space.card("C1").locator(".state")).to_have_text("new")
    space.card("C1").click()
    expect(page.locator("#chat-id")).to_have_text("C1")
    for button, state in (("Activate", "active"), ("Park", "parked"), ("Activate", "active"),
                          ("Wrap up", "active-wrapup")):
        page.get_by_role("button", name=button, exact=True).click()
        expect(space.card("C1").locator(".state")).to_have_text(state.replace("-", " "))
        assert space.state("C1") == state
    expect(page.locator("#status")).to_have_text("wrap up")
    expect(space.card("C1")).to_contain_text("3 ext. left")
    expect(page.locator("#inbox li")).to_have_count(2)
    expect(space.card("C2").locator(".state")).to_have_text("new")
    assert space.state("C2") == "new"
    extend = page.get_by_role("button", name="Extend", exact=True)
    for left in (2, 1, 0):
        extend.click()
        expect(space.card("C1")).to_contain_text(f"{left} ext. left")
    assert space.cli.chat("C1")["extensions_left"] == 0
    expect(extend).to_be_disabled()  # greyed at none


def test_the_desk_replies_classifies_links_flags_transfers_and_takes_a_break(space):
    from playwright.sync_api import expect

    space.cli.ok("queue", "add", "sales")
    space.cli.ok("config", "set", "--queue", "sales", "classification", "list")
    space.cli.ok("classification", "add", "--queue", "sales", "refund")
    space.cli.ok("classification", "add", "--queue", "sales", "delivery")
    space.cli.ok("template", "add", "hello", "Hello, how can I help?")
    space.cli.ok("chat", "new", "--customer", "Ann", "--queue", "sales", "--inbox")
    space.cli.ok("chat", "activate", "C1")
    space.open("desk?agent=agent-1")
    page = space.page
    expect(page.locator("#chat-id")).to_have_text("C1")
    page.select_option("#template", "hello")
    expect(page.locator("#reply-text")).to_have_value("Hello, how can I help?")
    page.get_by_role("button", name="Send", exact=True).click()
    expect(page.locator("#transcript .text")).to_have_text(["Hello, how can I help?"])
    page.fill("#reply-text", "Let me look <now>.")
    page.keyboard.press("Enter")
    expect(page.locator("#transcript .text")).to_have_count(2)
    assert [m["text"] for m in space.cli.js("chat", "transcript", "C1")] == ["Hello, how can I help?",
                                                                              "Let me look <now>."]
    expect(page.locator("#code-free")).to_be_hidden()  # sales classifies from a list
    expect(page.locator("#code-list option")).to_have_text(["delivery", "refund"])
    page.select_option("#code-list", "refund")
    page.fill("#code-note", "card charged twice")
    page.get_by_role("button", name="Classify", exact=True).click()
    expect(page.locator("#classified")).to_have_text("classified refund (card charged twice)")
    page.fill("#contact-name", "Ann Lee")
    page.get_by_role("button", name="Link contact").click()
    page.get_by_role("button", name="Flag as abusive").click()
    expect(page.locator("#chat-extra")).to_contain_text("flagged abusive")
    expect(page.locator("#chat-extra")).to_contain_text("contact Ann Lee")
    chat = space.cli.chat("C1")
    assert (chat["classification"], chat["classification_note"], chat["contact"], chat["abusive"]) == (
        "refund", "card charged twice", "Ann Lee", True)
    space.cli.ok("--agent", "agent-2", "agent", "login")
    page.select_option("#transfer-to", "agent:agent-2")
    page.get_by_role("button", name="Transfer", exact=True).click()
    expect(page.locator("#inbox li")).to_have_count(0)
    assert space.cli.chat("C1")["agent"] == "agent-2"
    page.select_option("#break-reason", "training")
    page.get_by_role("button", name="Break", exact=True).click()
    expect(page.locator("#status")).to_have_text("break (training)")
    assert space.cli.js("agent", "status", "agent-1")["break_reason"] == "training"
    page.get_by_role("button", name="Start call").click()
    expect(page.locator("#call")).to_be_visible()
    assert space.cli.js("agent", "status", "agent-1")["on_call"] is True


def test_a_refusal_shows_the_command_lines_reason_and_changes_nothing(space):
    from playwright.sync_api import expect

    space.cli.ok("chat", "new", "--customer", "Ann")
    space.open("desk?agent=agent-1")
    expect(space.card("C1").locator(".state")).to_have_text("new")
    before = space.cli.dump()
    space.page.get_by_role("button", name="Park", exact=True).click()
    why = space.page.locator('[data-group="actions"] .why')
    expect(why).not_to_be_empty()
    same = space.cli.fails(3, "chat", "park", "C1")
    assert same.err.strip() == "error: " + why.text_content()
    assert space.cli.dump() == before
    assert [r["message"] for r in space.cli.js("refusals")] == [why.text_content()] * 2
    expect(space.card("C1").locator(".state")).to_have_text("new")


def test_a_change_made_by_the_command_line_shows_within_half_a_second(space):
    from playwright.sync_api import expect

    space.cli.ok("chat", "new", "--customer", "Ann")
    space.cli.ok("chat", "activate", "C1")
    space.open("desk?agent=agent-1")
    expect(space.card("C1").locator(".state")).to_have_text("active")
    space.page.wait_for_timeout(400)  # the page's first reads are over: what comes next, the stream brings
    space.cli.ok("chat", "receive", "C1", "--", "Where is my parcel?")  # a message: no event, a change
    took = wait_until(space.page, "() => document.querySelector('#transcript')?.textContent"
                                  ".includes('Where is my parcel?')")
    assert took < 0.5, took
    space.cli.ok("chat", "park", "C1")
    took = wait_until(space.page, "() => document.querySelector('#inbox li[data-chat=C1] .state')"
                                  "?.dataset.state === 'parked'")
    assert took < 0.5, took


def test_the_wrapup_countdown_ticks_on_a_real_clock_and_stops_when_parked(space):
    from playwright.sync_api import expect

    space.cli.ok("chat", "new", "--customer", "Ann")
    space.cli.ok("chat", "activate", "C1")
    space.cli.ok("clock", "real")
    space.cli.ok("chat", "wrapup", "C1")
    space.open("desk?agent=agent-1")
    countdown = space.card("C1").locator(".countdown")
    expect(countdown).to_have_attribute("data-running", "yes")
    first = countdown.text_content()
    wait_until(space.page, "(first) => document.querySelector('#inbox li[data-chat=C1] .countdown')"
                           ".textContent !== first", first, timeout=2.5)
    assert countdown.text_content() < first  # wrap-up 0:59 after wrap-up 1:00
    space.page.get_by_role("button", name="Park", exact=True).click()
    expect(countdown).to_have_attribute("data-running", "no")
    expect(countdown).to_contain_text("stopped")
    assert space.state("C1") == "parked-wrapup"
    stopped = countdown.text_content()
    space.page.wait_for_timeout(1300)
    assert countdown.text_content() == stopped


def test_customer_text_holding_markup_shows_as_text(space):
    from playwright.sync_api import expect

    name = '<img src=x onerror="alert(1)">'
    text = "<script>alert(2)</script><b>bold</b><img src=y onerror=alert(3)>"
    space.cli.ok("chat", "new", "--customer", name)
    space.cli.ok("chat", "activate", "C1")
    space.cli.ok("chat", "receive", "C1", "--", text)
    space.open("desk?agent=agent-1")
    expect(space.page.locator("#transcript .text")).to_have_text(text)
    expect(space.card("C1").locator(".customer")).to_have_text(name)
    expect(space.page.locator("#chat-customer")).to_have_text(name)
    assert space.page.locator("img, b, body script:not([src])").count() == 0
    space.page.wait_for_timeout(300)
    assert space.dialogs == []


def test_a_token_in_the_fragment_goes_in_a_header_and_never_in_an_address(space):
    from playwright.sync_api import expect

    token = "cet_" + "x" * 43
    seen = []
    space.page.on("request", lambda request: seen.append((request.url, request.headers.get("authorization"))))
    space.page.goto(f"{space.url}/ns/{space.ns}/desk?agent=agent-1#token={token}")
    expect(space.page.locator("#live")).to_have_text("live", timeout=5000)
    assert token not in space.page.url
    assert space.page.evaluate("sessionStorage.getItem('chatemu-token')") == token
    calls = [(url, auth) for url, auth in seen if "/v1/ns/" in url]
    assert any(url.endswith("/events/stream") for url, _ in calls)
    assert calls and all(auth == f"Bearer {token}" and token not in url for url, auth in calls), calls
    assert all(token not in url for url, _ in seen)


# -- the room ----------------------------------------------------------------------------------


def test_the_room_makes_a_chat_and_moves_the_clock(space):
    from playwright.sync_api import expect

    space.cli.ok("queue", "add", "sales")
    space.open("room")
    page = space.page
    expect(page.locator('#agents tr[data-agent="agent-1"]')).to_contain_text("available")
    page.fill("#new-customer", "Dora")
    page.fill("#new-queue", "sales")
    page.fill("#new-priority", "2")
    page.get_by_role("button", name="New chat").click()
    expect(page.locator('#agents tr[data-agent="agent-1"] .state')).to_have_text("new")
    (chat,) = space.cli.js("chat", "list", "--all")
    assert (chat["customer"], chat["queue"], chat["priority"]) == ("Dora", "sales", 2)
    page.fill("#clock-advance", "90s")
    page.get_by_role("button", name="Advance").click()
    expect(page.locator("#clock")).to_contain_text("09:01:30")
    assert space.cli.js("clock")["now"] == "2026-01-05T09:01:30.000Z"
    page.fill("#clock-advance", "soon")
    page.get_by_role("button", name="Advance").click()
    why = page.locator('[data-group="clock"] .why')
    expect(why).not_to_be_empty()
    assert space.cli.run("clock", "advance", "soon").err.strip() == "error: " + why.text_content()
    assert space.cli.js("clock")["now"] == "2026-01-05T09:01:30.000Z"


def test_the_room_plays_the_customer_and_keeps_snapshots(space):
    from playwright.sync_api import expect

    space.cli.ok("chat", "new", "--customer", "Ann", "--inbox")
    space.cli.ok("chat", "activate", "C1")
    space.open("room")
    page = space.page
    page.select_option("#say-chat", "C1")
    page.fill("#say-text", "Are you there?")
    page.get_by_role("button", name="Send as customer").click()
    expect(page.locator("#say-text")).to_have_value("")
    assert [m["text"] for m in space.cli.js("chat", "transcript", "C1")] == ["Are you there?"]
    page.fill("#snapshot-name", "talking")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator("#snapshot-list option")).to_have_text(["talking"])
    page.get_by_role("button", name="Customer leaves").click()
    expect(page.locator('#agents tr[data-agent="agent-1"] .state')).to_have_text("active wrapup")
    assert space.state("C1") == "active-wrapup"
    page.get_by_role("button", name="Restore").click()
    expect(page.locator('#agents tr[data-agent="agent-1"] .state')).to_have_text("active")
    assert space.state("C1") == "active"


def test_the_room_shows_refusals_per_agent_as_they_happen(space):
    from playwright.sync_api import expect

    space.cli.ok("chat", "new", "--customer", "Ann")
    space.open("room")
    space.page.wait_for_timeout(400)
    space.cli.fails(3, "--agent", "agent-1", "chat", "park", "C1")
    group = space.page.locator('#refusals [data-agent="agent-1"]')
    expect(group).to_contain_text("cannot park C1: it is new")


def test_screenshots_of_the_desk_and_the_room(space, tmp_path):
    from playwright.sync_api import expect

    space.cli.ok("template", "add", "hello", "Hello, how can I help?")
    space.cli.ok("chat", "new", "--customer", "Ann Lee", "--queue", "sales", "--inbox")
    space.cli.ok("chat", "activate", "C1")
    space.cli.ok("chat", "receive", "C1", "--", "Can I change my delivery address?")
    space.cli.ok("chat", "wrapup", "C1")
    space.cli.ok("chat", "new", "--customer", "Bob Stone", "--inbox")
    space.cli.ok("chat", "activate", "C2")
    space.cli.ok("chat", "receive", "C2", "--", "Hello, my order has not arrived.")
    space.cli.ok("chat", "send", "C2", "--template", "hello")
    space.cli.ok("chat", "receive", "C2", "--", "It is order 1042, placed <last> Monday.")
    space.cli.ok("chat", "new", "--customer", "Cy", "--inbox")
    space.cli.ok("chat", "new", "--customer", "Di", "--queue", "sales")
    space.cli.ok("--agent", "agent-2", "agent", "login")
    space.cli.ok("--agent", "agent-2", "agent", "break", "--reason", "lunch")
    space.cli.run("chat", "park", "C9")
    folder = SHOTS or tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    for what in ("desk?agent=agent-1", "room"):
        space.open(what)
        expect(space.page.locator("#clock")).not_to_be_empty()
        if what.startswith("desk"):
            expect(space.page.locator("#transcript li")).to_have_count(3)
            expect(space.page.locator("#transfer-to option")).not_to_have_count(0)
        path = folder / f"{what.split('?')[0]}.png"
        space.page.screenshot(path=str(path))
        assert path.stat().st_size > 10_000


# -- logging in, the keyboard, names and hooks -------------------------------------------------


def tab_to(page, selector: str, limit: int = 60, back: bool = False) -> None:
    """Press Tab (Shift+Tab with ``back``) until the element with the focus matches ``selector``."""
    for _ in range(limit):
        if page.evaluate("(s) => document.activeElement ? document.activeElement.matches(s) : false", selector):
            return
        page.keyboard.press("Shift+Tab" if back else "Tab")
    raise AssertionError(f"Tab never reached {selector}")


def test_the_login_page_of_an_open_server_asks_a_namespace_and_an_agent(space):
    from playwright.sync_api import expect

    page = space.page
    page.goto(space.url + "/")
    expect(page.locator("#open")).to_be_visible()
    expect(page.locator("#with-token")).to_be_hidden()
    page.get_by_role("textbox", name="Namespace").fill("Not a name")
    page.keyboard.press("Enter")
    expect(page.locator('[data-group="open"] .why')).to_contain_text("bad namespace 'Not a name'")
    assert page.url == space.url + "/"
    page.get_by_role("textbox", name="Namespace").fill(space.ns)
    page.get_by_role("textbox", name="Agent").fill("agent-2")
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{space.url}/ns/{space.ns}/desk?agent=agent-2")
    expect(page.locator("#live")).to_have_text("live", timeout=5000)
    expect(page.locator(".status")).to_have_attribute("data-status", "offline")
    page.get_by_role("button", name="Log in").click()
    expect(page.locator(".status")).to_have_attribute("data-status", "available")
    assert space.cli.js("agent", "status", "agent-2")["status"] == "available"
    page.goto(space.url + "/")
    page.get_by_role("textbox", name="Namespace").fill(space.ns)
    page.get_by_role("button", name="Open the room").click()
    expect(page).to_have_url(f"{space.url}/ns/{space.ns}/room")
    expect(page.locator('#agents tr[data-agent="agent-2"]')).to_contain_text("available")


def test_every_control_has_a_role_and_a_name_and_the_rows_carry_their_state(space):
    from playwright.sync_api import expect

    space.cli.ok("chat", "new", "--customer", "Ann", "--inbox")
    space.cli.ok("chat", "new", "--customer", "Bob", "--inbox")
    space.cli.ok("chat", "activate", "C2")
    space.open("desk?agent=agent-1")
    page = space.page
    for role, name in (("button", "Log in"), ("button", "Available"), ("button", "Break"), ("button", "Start call"),
                       ("button", "End call"), ("button", "Log out"), ("combobox", "break reason"),
                       ("button", "Activate"), ("button", "Park"), ("button", "Wrap up"), ("button", "Extend"),
                       ("button", "Finish"), ("button", "Return"), ("button", "Flag as abusive"),
                       ("button", "Send"), ("combobox", "template"), ("textbox", "reply"),
                       ("button", "Transfer"), ("combobox", "transfer to"), ("button", "Classify"),
                       ("textbox", "note"), ("button", "Link contact"), ("textbox", "contact name")):
        expect(page.get_by_role(role, name=name, exact=True)).to_have_count(1)
    expect(page.locator(".status")).to_have_attribute("data-status", "handling-chat")
    expect(page.locator("#inbox li")).to_have_count(2)
    rows = page.locator("#inbox li")
    found = {rows.nth(i).get_attribute("data-chat-id"): rows.nth(i).get_attribute("data-state") for i in range(2)}
    assert found == {c["id"]: c["state"] for c in space.cli.js("--agent", "agent-1", "chat", "list")}
    assert found == {"C1": "new", "C2": "active"}
    page.get_by_role("button", name=re.compile(r"^C1 Ann")).click()
    expect(page.locator("#chat-id")).to_have_text("C1")
    expect(page.get_by_role("button", name=re.compile(r"^C1 Ann"))).to_have_attribute("aria-current", "true")


def test_the_main_flow_by_keyboard_alone(space):
    from playwright.sync_api import expect

    space.cli.ok("chat", "new", "--customer", "Ann", "--inbox")
    space.cli.ok("chat", "new", "--customer", "Bob", "--inbox")
    space.open("desk?agent=agent-1")
    page = space.page
    expect(page.locator("#inbox li")).to_have_count(2)
    tab_to(page, '#inbox li[data-chat-id="C2"]')
    page.keyboard.press("Enter")  # pick the chat
    expect(page.locator("#chat-id")).to_have_text("C2")
    tab_to(page, 'button[data-do="activate"]')
    page.keyboard.press("Enter")
    expect(space.card("C2")).to_have_attribute("data-state", "active")
    assert space.state("C2") == "active"
    tab_to(page, "#reply-text", back=True)
    page.keyboard.type("Hello Bob, one moment.")
    page.keyboard.press("Enter")
    expect(page.locator("#transcript .text")).to_have_text(["Hello Bob, one moment."])
    tab_to(page, 'button[data-do="wrapup"]')
    page.keyboard.press("Space")
    expect(space.card("C2")).to_have_attribute("data-state", "active-wrapup")
    expect(page.locator(".status")).to_have_attribute("data-status", "wrap-up")
    tab_to(page, 'button[data-do="finish"]')
    page.keyboard.press("Space")
    expect(space.card("C2")).to_have_count(0)
    assert space.state("C2") == "closed"
    assert [m["text"] for m in space.cli.js("chat", "transcript", "C2")] == ["Hello Bob, one moment."]
    tab_to(page, '#inbox li[data-chat-id="C1"]', back=True)  # the other chat, still waiting, by keyboard too
    page.keyboard.press(" ")
    expect(page.locator("#chat-id")).to_have_text("C1")


def desk_in_wrapup(space):
    """agent-1's desk open with C1 in active wrap-up: the page and C1's countdown."""
    space.cli.ok("chat", "new", "--customer", "Ann", "--inbox")
    space.cli.ok("chat", "activate", "C1")
    space.cli.ok("chat", "wrapup", "C1")
    space.open("desk?agent=agent-1")
    return space.page, space.card("C1").locator(".countdown")


def test_parking_in_wrapup_stops_the_countdown_and_activate_resumes_it_from_the_same_second(space):
    from playwright.sync_api import expect

    page, countdown = desk_in_wrapup(space)
    expect(countdown).to_have_text("wrap-up 1:00")
    space.cli.ok("clock", "advance", "20s")
    expect(countdown).to_have_text("wrap-up 0:40")
    page.get_by_role("button", name="Park", exact=True).click()
    expect(countdown).to_have_text("wrap-up 0:40 stopped")
    assert space.state("C1") == "parked-wrapup"
    space.cli.ok("clock", "advance", "30s")
    expect(page.locator("#clock")).to_contain_text("09:00:50")
    expect(countdown).to_have_text("wrap-up 0:40 stopped")
    page.get_by_role("button", name="Activate", exact=True).click()
    expect(countdown).to_have_attribute("data-running", "yes")
    expect(countdown).to_have_text("wrap-up 0:40")
    assert space.cli.chat("C1")["wrapup_ends_at"] == "2026-01-05T09:01:30.000Z"


def test_a_call_parks_the_active_chat_and_ending_it_resumes_the_wrapup(space):
    from playwright.sync_api import expect

    page, countdown = desk_in_wrapup(space)
    page.get_by_role("button", name="Start call").click()
    expect(space.card("C1")).to_have_attribute("data-state", "parked-wrapup")
    expect(countdown).to_have_text("wrap-up 1:00 stopped")
    expect(page.locator(".status")).to_have_attribute("data-status", "on-call")
    expect(page.locator("#call")).to_be_visible()
    space.cli.ok("clock", "advance", "15s")
    expect(page.locator("#clock")).to_contain_text("09:00:15")
    page.get_by_role("button", name="End call").click()
    expect(space.card("C1")).to_have_attribute("data-state", "active-wrapup")
    expect(countdown).to_have_text("wrap-up 1:00")
    expect(page.locator(".status")).to_have_attribute("data-status", "wrap-up")
    assert space.state("C1") == "active-wrapup"


def test_a_hostile_customer_name_shows_as_text_in_the_room(space):
    from playwright.sync_api import expect

    name = "<img src=x onerror=alert(1)>"
    space.cli.ok("chat", "new", "--customer", name, "--inbox")
    space.cli.ok("chat", "receive", "C1", "--", name)
    space.open("room")
    expect(space.page.locator("#say-chat option")).to_have_text([f"C1 {name} (new)"])
    expect(space.page.locator('#agents tr[data-agent="agent-1"] .state')).to_have_text("new")
    assert space.page.locator("img").count() == 0
    space.page.wait_for_timeout(300)
    assert space.dialogs == []
