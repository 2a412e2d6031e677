"""A class in real browsers on a server with tokens: logging in through ``GET /``, what an agent's
page may not do whatever it sends, and a short class driven from the trainer's room.

One real ``chatemu serve --port 0`` process over a folder that has tokens (so every request needs
one) and one headless Chromium for the module; each test uses a namespace of its own and a
browser context per person (each its own ``sessionStorage``, so its own token).  What the pages
did is checked on the database with real ``chatemu --db DIR/NS.db`` processes.
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import pytest

from chatemu.server.tokens import TokenStore
from conftest import START, Chatemu
from test_desk import CHROMIUM, CHROMIUM_ARGS, SHOTS, browser  # noqa: F401  (the module's one browser)
from test_serve import start_server, stop

_names = itertools.count(1)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("class")
    store = TokenStore(str(folder))
    store.add("nobody", "trainer")  # the folder has tokens: no request is open
    proc, url = start_server("--data-dir", str(folder))
    yield url, folder, store
    assert stop(proc) == 0
    assert "Traceback" not in proc.stderr.read()


class Person:
    """One browser context (a person at a computer) and its page."""

    def __init__(self, browser, url: str):
        self.url = url
        self.context = browser.new_context(viewport={"width": 1280, "height": 800})
        self.page = self.context.new_page()
        self.dialogs, self.errors = [], []
        self.page.on("dialog", lambda dialog: (self.dialogs.append(dialog.message), dialog.dismiss()))
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.on("console", lambda msg: self.errors.append(msg.text)
                     if "Content Security Policy" in msg.text else None)

    def log_in(self, token: str, lands: str) -> None:
        from playwright.sync_api import expect

        self.page.goto(self.url + "/")
        self.page.get_by_role("textbox", name="Token").fill(token)
        self.page.get_by_role("button", name="Open").click()
        expect(self.page).to_have_url(self.url + lands)
        expect(self.page.locator("#live")).to_have_text("live", timeout=5000)

    def card(self, chat: str):
        return self.page.locator(f'#inbox li[data-chat-id="{chat}"]')

    def close(self) -> None:
        self.context.close()
        assert self.errors == [] and self.dialogs == [], (self.errors, self.dialogs)


class Class:
    """A namespace with a trainer token and an agent token per agent; the command line on it."""

    def __init__(self, url: str, folder: Path, store: TokenStore, browser):
        self.ns = f"k{next(_names)}"
        self.url, self.browser, self.store = url, browser, store
        self.cli = Chatemu(folder / f"{self.ns}.db")
        self.cli.ok("clock", "set", START)
        self.trainer = store.add(self.ns, "trainer")[1]
        self.people: list[Person] = []

    def token(self, role: str, agent: str | None = None) -> str:
        return self.store.add(self.ns, role, agent)[1]

    def person(self) -> Person:
        made = Person(self.browser, self.url)
        self.people.append(made)
        return made


@pytest.fixture
def klass(server, browser):
    made = Class(*server, browser)
    yield made
    for person in made.people:
        person.close()


def test_an_agent_token_logs_in_at_the_root_and_opens_its_own_desk(klass):
    from playwright.sync_api import expect

    ann = klass.person()
    page = ann.page
    page.goto(klass.url + "/")
    expect(page.locator("#with-token")).to_be_visible()
    expect(page.locator("#open")).to_be_hidden()
    expect(page.get_by_role("textbox", name="Token")).to_be_focused()
    if SHOTS:
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "login.png"))
    page.get_by_role("textbox", name="Token").fill("cet_" + "n" * 43)
    page.keyboard.press("Enter")
    expect(page.locator('[data-group="token"] .why')).to_contain_text("this token opens nothing")
    page.get_by_role("textbox", name="Token").fill(klass.token("customer"))
    page.keyboard.press("Enter")
    expect(page.locator('[data-group="token"] .why')).to_contain_text("a customer token has no page here")
    ann.log_in(klass.token("agent", "agent-2"), f"/ns/{klass.ns}/desk?agent=agent-2")
    page.get_by_role("button", name="Log in").click()
    expect(page.locator(".status")).to_have_attribute("data-status", "available")
    klass.cli.ok("chat", "new", "--customer", "Ann")  # a chat arrives, and is activated by a click
    expect(ann.card("C1")).to_have_attribute("data-state", "new")
    ann.card("C1").click()
    page.get_by_role("button", name="Activate", exact=True).click()
    expect(ann.card("C1")).to_have_attribute("data-state", "active")
    assert klass.cli.chat("C1")["state"] == "active" and klass.cli.chat("C1")["agent"] == "agent-2"
    room = klass.person()
    room.log_in(klass.trainer, f"/ns/{klass.ns}/room")
    bare = klass.person()  # a desk's address without ?agent=: the agent token's own agent
    bare.page.goto(f"{klass.url}/ns/{klass.ns}/desk#token={klass.token('agent', 'agent-3')}")
    expect(bare.page.locator("#live")).to_have_text("live", timeout=5000)
    expect(bare.page.locator("#who")).to_have_text(f"{klass.ns} · agent-3")
    bare.page.get_by_role("button", name="Log in").click()
    expect(bare.page.locator(".status")).to_have_attribute("data-status", "available")
    assert klass.cli.js("agent", "status", "agent-3")["status"] == "available"


def test_an_agents_page_cannot_act_as_another_agent_whatever_it_sends(klass):
    from playwright.sync_api import expect

    klass.cli.ok("--agent", "agent-1", "agent", "login")
    klass.cli.ok("--agent", "agent-2", "agent", "login")
    klass.cli.ok("chat", "new", "--customer", "Ann")
    assert klass.cli.chat("C1")["agent"] == "agent-1"
    bob = klass.person()
    bob.log_in(klass.token("agent", "agent-2"), f"/ns/{klass.ns}/desk?agent=agent-2")
    before = (klass.cli.dump(), klass.cli.journal())
    forged = bob.page.evaluate("""async (ns) => {
        const auth = {Authorization: `Bearer ${sessionStorage.getItem('chatemu-token')}`};
        const json = {...auth, 'Content-Type': 'application/json'};
        const base = `/v1/ns/${ns}`;
        const calls = [
          ['POST', `${base}/agents/agent-1/logout`, auth, undefined],
          ['POST', `${base}/chats/C1/activate`, {...auth, 'X-Chatemu-Agent': 'agent-1'}, undefined],
          ['POST', `${base}/chats/C1/park`, json, JSON.stringify({agent: 'agent-1'})],
          ['POST', `${base}/cli`, json, JSON.stringify({argv: ['--agent', 'agent-1', 'chat', 'activate', 'C1']})],
        ];
        const found = [];
        for (const [method, url, headers, body] of calls) {
          const answer = await fetch(url, {method, headers, body});
          found.push([answer.status, (await answer.json()).detail]);
        }
        return found;
    }""", klass.ns)
    assert [status for status, _ in forged] == [403] * 4, forged
    assert all("acts as agent agent-2 only" in detail for _, detail in forged), forged
    assert (klass.cli.dump(), klass.cli.journal()) == before
    bob.page.get_by_role("button", name="Log out").click()  # what it sends as itself still works
    expect(bob.page.locator(".status")).to_have_attribute("data-status", "logged-out")
    assert klass.cli.js("agent", "status", "agent-1")["status"] == "available"


def test_the_room_drives_a_short_class_of_three_agents(klass):
    from playwright.sync_api import expect

    klass.cli.ok("queue", "add", "sales")
    klass.cli.ok("config", "set", "--queue", "sales", "classification", "list")
    klass.cli.ok("classification", "add", "--queue", "sales", "refund")
    klass.cli.ok("template", "add", "hello", "Hello, how can I help?")
    trainer = klass.person()
    trainer.log_in(klass.trainer, f"/ns/{klass.ns}/room")
    room = trainer.page
    agents = {}
    for n in (1, 2, 3):
        name = f"agent-{n}"
        agents[name] = klass.person()
        agents[name].log_in(klass.token("agent", name), f"/ns/{klass.ns}/desk?agent={name}")
        agents[name].page.get_by_role("button", name="Log in").click()
        # The room sees each (given time: the whole suite loads the machine while 4 pages run).
        expect(room.locator(f'#agents tr[data-agent="{name}"]')).to_contain_text("available", timeout=15_000)
    for customer in ("<img src=x onerror=alert(1)>", "Ann", "Bob", "Cy"):
        room.get_by_role("textbox", name="customer", exact=True).fill(customer)
        room.get_by_label("queue", exact=True).fill("sales")
        room.get_by_role("button", name="New chat").click()
        expect(room.locator("#say-chat option")).to_contain_text([customer], timeout=5000)
    chats = {c["id"]: c for c in klass.cli.js("chat", "list", "--all")}
    assert len(chats) == 4
    hostile = next(c["id"] for c in chats.values() if c["customer"].startswith("<img"))
    for _ in range(3):  # each activates what arrives in its inbox, as it arrives
        new = [c for c in klass.cli.js("chat", "list", "--all") if c["state"] == "new"]
        if not new:
            break
        for chat in new:
            person = agents[chat["agent"]]
            expect(person.card(chat["id"])).to_have_attribute("data-state", "new")
            person.card(chat["id"]).click()
            expect(person.page.locator("#chat-id")).to_have_text(chat["id"])
            person.page.get_by_role("button", name="Activate", exact=True).click()
            expect(person.card(chat["id"])).to_have_attribute("data-state", "active")
    assert {c["state"] for c in klass.cli.js("chat", "list", "--all")} <= {"active", "queued"}
    owner = agents[klass.cli.chat(hostile)["agent"]]
    expect(owner.page.locator("#chat-customer")).to_have_text("<img src=x onerror=alert(1)>")
    first = next(c for c in chats if c != hostile)
    room.select_option("#say-chat", first)
    room.get_by_role("textbox", name="customer message").fill("Where is my refund?")
    room.get_by_role("button", name="Send as customer").click()
    desk = agents[klass.cli.chat(first)["agent"]]
    desk.card(first).click()
    expect(desk.page.locator("#transcript .text")).to_have_text(["Where is my refund?"])
    desk.page.select_option("#template", "hello")
    desk.page.get_by_role("button", name="Send", exact=True).click()
    expect(desk.page.locator("#transcript .text")).to_have_count(2)
    desk.page.get_by_role("button", name="Wrap up", exact=True).click()
    desk.page.select_option("#code-list", "refund")
    desk.page.get_by_role("button", name="Classify", exact=True).click()
    expect(desk.page.locator("#classified")).to_have_text("classified refund")
    room.get_by_role("textbox", name="advance the clock by").fill("30s")
    room.get_by_role("button", name="Advance").click()
    for person in [trainer, *agents.values()]:
        expect(person.page.locator("#clock")).to_contain_text("09:00:30")
    expect(desk.card(first).locator(".countdown")).to_have_text("wrap-up 0:30")
    # every page agrees with the command line
    everything = klass.cli.js("chat", "list", "--all")
    assert {c["id"]: c["state"] for c in everything}[first] == "active-wrapup"
    for name, person in agents.items():
        mine = {c["id"]: c["state"] for c in everything if c["agent"] == name and c["state"] != "closed"}
        expect(person.page.locator("#inbox li")).to_have_count(len(mine))
        rows = person.page.locator("#inbox li")
        shown = {rows.nth(i).get_attribute("data-chat-id"): rows.nth(i).get_attribute("data-state")
                 for i in range(rows.count())}
        assert shown == mine, (name, shown, mine)
        chips = room.locator(f'#agents tr[data-agent="{name}"] .chip')
        expect(chips).to_have_count(len(mine))
        in_room = {chips.nth(i).locator("strong").text_content(): chips.nth(i).locator(".state").get_attribute(
            "data-state") for i in range(chips.count())}
        assert in_room == mine, (name, in_room, mine)
    expect(room.locator("#say-chat option")).to_have_count(len([c for c in everything if c["state"] != "closed"]))
    assert room.locator("img").count() == 0 and owner.page.locator("img").count() == 0


def test_every_stream_client_gets_every_event_of_a_run_in_order():
    """``benchmarks/desks.py`` small: a ``chatemu run`` against several event-stream readers at
    once; each gets every event, in order (the figures themselves are the benchmark's, not a test's)."""
    import json
    import subprocess
    import sys

    script = Path(__file__).resolve().parent.parent / "benchmarks" / "desks.py"
    done = subprocess.run([sys.executable, str(script), "--clients", "8", "--desks", "0", "--steps", "60", "--json"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert (found["events"], found["clients"], found["clients_missing_events"]) == (120, 8, [])
    assert found["to_last_client_ms"]["p50"] > 0
