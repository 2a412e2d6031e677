// The agent desk and the trainer's room of `chatemu serve`.
//
// The page holds no rules: every button is one request to /v1/ns/NS/..., the state shown is what
// the GET routes answer, and the event stream (read with fetch, so it can carry the token) says
// when to read it again.  Text from outside (names, messages, reasons) only ever goes in through
// textContent.

const NS = decodeURIComponent(location.pathname.split("/")[2] || "");
const BASE = `/v1/ns/${encodeURIComponent(NS)}`;
const PAGE = document.body.dataset.page;

// -- the token: from the address's fragment (#token=...) into this tab's sessionStorage --------

const TOKEN_KEY = "chatemu-token";
(function keepToken() {
  const fragment = new URLSearchParams(location.hash.slice(1));
  if (fragment.has("token")) {
    sessionStorage.setItem(TOKEN_KEY, fragment.get("token"));
    fragment.delete("token");
    const rest = fragment.toString();
    history.replaceState(null, "", location.pathname + location.search + (rest ? "#" + rest : ""));
  }
})();

function headers(extra) {
  const found = { ...extra };
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) found["Authorization"] = `Bearer ${token}`;
  if (AGENT) found["X-Chatemu-Agent"] = AGENT;
  return found;
}

const params = new URLSearchParams(location.search);
const fragmentParams = new URLSearchParams(location.hash.slice(1));
// The desk's agent: ?agent= (or #agent=); else an agent token's own agent; else agent-1.
let AGENT = PAGE === "desk" ? (params.get("agent") || fragmentParams.get("agent") || null) : null;

// -- requests ---------------------------------------------------------------------------------

class Refused extends Error {}

async function api(method, path, body) {
  const init = { method, headers: headers(body === undefined ? {} : { "Content-Type": "application/json" }),
                 cache: "no-store" };
  if (body !== undefined) init.body = JSON.stringify(body);
  const answer = await fetch(BASE + path, init);
  const text = await answer.text();
  let value = null;
  try { value = text ? JSON.parse(text) : null; } catch { value = null; }
  if (!answer.ok) {
    const detail = value && typeof value.detail === "string" ? value.detail : `${answer.status} ${answer.statusText}`;
    const error = new Refused(detail);
    error.status = answer.status;
    throw error;
  }
  return value;
}

const get = (path) => api("GET", path);
const q = encodeURIComponent;

// What a click does: the request; its refusal's reason next to the control clicked.
async function act(control, method, path, body) {
  const group = control.closest("[data-group]");
  const why = group ? group.querySelector(".why") : null;
  if (why) { why.textContent = ""; group.classList.remove("refused"); }
  try {
    await api(method, path, body);
    return true;
  } catch (error) {
    if (why) { why.textContent = error.message; group.classList.add("refused"); }
    return false;
  }
}

// -- small DOM helpers (text only) ----------------------------------------------------------

const $ = (id) => document.getElementById(id);

function el(tag, className, text) {
  const made = document.createElement(tag);
  if (className) made.className = className;
  if (text !== undefined && text !== null) made.textContent = String(text);
  return made;
}

function options(select, items, keep) {
  const before = keep === undefined ? select.value : keep;
  select.replaceChildren(...items.map(([value, label]) => {
    const option = el("option", null, label);
    option.value = value;
    return option;
  }));
  if (items.some(([value]) => value === before)) select.value = before;
}

// -- time: the emulator's clock, moving here between reads when it is real -----------------

const clock = { now: 0, mode: "virtual", at: performance.now() };

function setClock(value) {
  clock.now = Date.parse(value.now);
  clock.mode = value.mode;
  clock.at = performance.now();
}

const nowMs = () => clock.now + (clock.mode === "real" ? performance.now() - clock.at : 0);

function duration(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  const two = (n) => String(n).padStart(2, "0");
  return h ? `${h}:${two(m)}:${two(r)}` : `${m}:${two(r)}`;
}

const since = (iso) => duration((nowMs() - Date.parse(iso)) / 1000);

// A wrap-up's time left: running (its end on the clock), or parked (stopped where it is).
function wrapupLeft(chat) {
  if (chat.wrapup_ends_at) return { seconds: (Date.parse(chat.wrapup_ends_at) - nowMs()) / 1000, running: true };
  if (chat.wrapup_remaining !== null && chat.wrapup_remaining !== undefined) {
    return { seconds: chat.wrapup_remaining, running: false };
  }
  return null;
}

function countdown(target, chat) {
  const left = wrapupLeft(chat);
  target.hidden = !left;
  if (!left) return;
  target.textContent = left.running ? `wrap-up ${duration(left.seconds)}` : `wrap-up ${duration(left.seconds)} stopped`;
  target.classList.toggle("stopped", !left.running);
  target.dataset.running = left.running ? "yes" : "no";
}

// Whatever shows a time that moves registers here; a timer redraws them (no request).
const tickers = [];
setInterval(() => tickers.forEach((tick) => tick()), 250);

function stateBadge(state) {
  const badge = el("span", `state s-${state}`, state.replace(/-/g, " "));
  badge.dataset.state = state;
  return badge;
}

// -- the event stream, read with fetch (an EventSource cannot send the Authorization header) --

function follow(onChange) {
  const live = $("live");
  let lastId = null;
  let backoff = 500;

  async function connect() {
    const extra = lastId ? { "Last-Event-ID": lastId, Accept: "text/event-stream" } : { Accept: "text/event-stream" };
    try {
      const answer = await fetch(`${BASE}/events/stream`, { headers: headers(extra), cache: "no-store" });
      if (!answer.ok || !answer.body) throw new Error(`${answer.status} ${answer.statusText}`);
      live.textContent = "live";
      live.className = "live on";
      backoff = 500;
      onChange();
      const reader = answer.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let cut;
        while ((cut = buffer.search(/\r?\n\r?\n/)) >= 0) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut).replace(/^\r?\n\r?\n/, "");
          let changed = false;
          for (const line of block.split(/\r?\n/)) {
            if (line.startsWith("id:")) lastId = line.slice(3).trim();
            if (line.startsWith("data:") || line === ": changed") changed = true;
          }
          if (changed) onChange();
        }
      }
      throw new Error("the stream ended");
    } catch (error) {
      live.textContent = `reconnecting (${error.message})`;
      live.className = "live off";
      setTimeout(connect, backoff);
      backoff = Math.min(backoff * 2, 5000);
    }
  }
  connect();
}

// Read the state again after a change: at most one read at a time, one more if changes came meanwhile.
function refresher(read) {
  let running = false, again = false;
  return async function refresh() {
    if (running) { again = true; return; }
    running = true;
    try {
      do { again = false; await read(); } while (again);
    } catch (error) {
      const live = $("live");
      live.textContent = `cannot read the state: ${error.message}`;
      live.className = "live off";
    } finally {
      running = false;
    }
  };
}

// -- the desk ---------------------------------------------------------------------------------

function desk() {
  $("who").textContent = `${NS} · ${AGENT}`;
  document.title = `${AGENT} · chatemu desk`;
  let selected = null;   // the chat shown (the page's own choice, not the model's)
  let agent = null, chats = [], config = null, templates = [];

  const agentPath = `/agents/${q(AGENT)}`;

  async function read() {
    const [clockNow, status, inbox, cfg, reasons] = await Promise.all([
      get("/clock"),
      get(agentPath).catch((error) => { if (error.status === 404) return null; throw error; }),
      get(`/chats?agent=${q(AGENT)}`).catch((error) => { if (error.status === 404) return []; throw error; }),
      get("/config"),
      get("/break-reasons"),
    ]);
    setClock(clockNow);
    agent = status; chats = inbox; config = cfg;
    options($("break-reason"), reasons.map((r) => [r, r]));
    if (!chats.some((c) => c.id === selected)) {
      selected = (agent && chats.some((c) => c.id === agent.active_chat)) ? agent.active_chat : (chats[0] || {}).id || null;
    }
    drawStatus();
    drawInbox();
    tick();
    await readChat();
  }

  async function readChat() {
    const chat = chats.find((c) => c.id === selected);
    if (!chat) {
      $("none").hidden = false;
      $("chat").hidden = true;
      return;
    }
    const [lines, found, codes, queues, agents] = await Promise.all([
      get(`/chats/${q(chat.id)}/transcript`),
      get(`/templates?queue=${q(chat.queue)}`),
      get(`/classifications?queue=${q(chat.queue)}`),
      get(`${agentPath}/queues`).then((mine) => mine.all ? get("/queues").then((all) => all.map((x) => x.name))
        : mine.queues.map((x) => x.queue)).catch(() => get("/queues").then((all) => all.map((x) => x.name))),
      get("/agents"),
    ]);
    if (chat.id !== selected) return;  // another chat was picked meanwhile
    templates = found;
    drawChat(chat, lines, codes, queues, agents);
    $("none").hidden = true;
    $("chat").hidden = false;
  }

  function drawStatus() {
    const pill = $("status");
    const bar = pill.closest(".status");
    if (!agent) {
      pill.textContent = "not logged in";
      pill.dataset.status = bar.dataset.status = "offline";
      $("call").hidden = true;
      return;
    }
    const words = agent.break_reason ? `${agent.status} (${agent.break_reason})` : agent.status;
    pill.textContent = words.replace(/-/g, " ");
    pill.dataset.status = bar.dataset.status = agent.status;
    $("call").hidden = !agent.on_call;
  }

  function drawInbox() {
    // the row that has the keyboard's focus keeps it when the inbox is drawn again
    const focused = document.activeElement ? document.activeElement.closest("#inbox li") : null;
    const keep = focused ? focused.dataset.chatId : null;
    $("inbox-count").textContent = chats.length ? `(${chats.length})` : "";
    $("inbox-empty").hidden = chats.length > 0;
    $("inbox").replaceChildren(...chats.map((chat) => {
      const item = el("li", "card");
      item.dataset.chat = chat.id;
      item.dataset.chatId = chat.id;
      item.dataset.state = chat.state;
      item.tabIndex = 0;
      item.setAttribute("role", "button");
      item.setAttribute("aria-current", chat.id === selected ? "true" : "false");
      item.classList.toggle("selected", chat.id === selected);
      const top = el("div", "card-top");
      top.append(el("strong", null, chat.id), el("span", "customer", chat.customer || "(no name)"));
      if (chat.unread) {
        const unread = el("span", "unread", chat.unread);
        unread.title = "unread messages";
        top.append(unread);
      }
      const bottom = el("div", "card-bottom");
      bottom.append(stateBadge(chat.state), el("span", "muted", chat.queue));
      if (chat.priority) bottom.append(el("span", "muted", `priority ${chat.priority}`));
      const wrap = el("span", "countdown");
      bottom.append(wrap);
      countdown(wrap, chat);
      wrap.dataset.chat = chat.id;
      if (chat.extensions_left !== null) bottom.append(el("span", "muted ext", `${chat.extensions_left} ext. left`));
      item.append(top, bottom);
      const pick = () => { selected = chat.id; drawInbox(); readChat(); };
      item.addEventListener("click", pick);
      item.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); pick(); } });
      return item;
    }));
    const again = keep ? [...$("inbox").children].find((item) => item.dataset.chatId === keep) : null;
    if (again) again.focus();
  }

  function drawChat(chat, lines, codes, queues, agents) {
    $("chat-id").textContent = chat.id;
    $("chat-customer").textContent = chat.customer || "(no name)";
    $("chat-state").replaceChildren(stateBadge(chat.state));
    $("chat-queue").textContent = `queue ${chat.queue}`;
    countdown($("chat-wrapup"), chat);
    const extra = [];
    if (chat.extensions_left !== null) extra.push(`${chat.extensions_left} extension(s) left`);
    if (chat.abusive) extra.push("flagged abusive");
    if (chat.contact) extra.push(`contact ${chat.contact}`);
    $("chat-extra").textContent = extra.join(" · ");
    $("chat").querySelector('[data-do="extend"]').disabled = chat.extensions_left === 0;

    const list = $("transcript");
    const atBottom = list.scrollTop + list.clientHeight >= list.scrollHeight - 4;
    list.replaceChildren(...lines.map((line) => {
      const item = el("li", line.from === "customer" ? "from-customer" : "from-agent");
      const head = el("div", "line-head");
      head.append(el("span", "from", line.from), el("span", "at", line.at.slice(11, 19)));
      item.append(head, el("div", "text", line.text));
      return item;
    }));
    if (atBottom) list.scrollTop = list.scrollHeight;

    options($("template"), [["", "Template…"], ...templates.map((t) => [t.name, t.queue ? `${t.name} (${t.queue})` : t.name])]);
    options($("transfer-to"), [...queues.map((name) => [`queue:${name}`, `queue ${name}`]),
      ...agents.filter((a) => a.id !== AGENT).map((a) => [`agent:${a.id}`, `agent ${a.id} (${a.status})`])]);

    const mode = ((config.queues || {})[chat.queue] || {}).classification || config.classification;
    const listed = mode === "list";
    $("code-list").hidden = !listed;
    $("code-free").hidden = listed;
    options($("code-list"), codes.map((c) => [c.code, c.code]));
    $("classified").textContent = chat.classification
      ? `classified ${chat.classification}${chat.classification_note ? ` (${chat.classification_note})` : ""}` : "";
  }

  const tick = () => {
    if (agent) $("status-time").textContent = since(agent.status_since);
    else $("status-time").textContent = "";
    $("clock").textContent = clockText();
    for (const target of document.querySelectorAll(".countdown")) {
      const chat = chats.find((c) => c.id === (target.dataset.chat || selected));
      if (chat) countdown(target, chat);
    }
  };
  tickers.push(tick);

  // the status bar
  document.querySelector('[data-group="status"]').addEventListener("click", (event) => {
    const button = event.target.closest("button[data-do]");
    if (!button) return;
    const what = button.dataset.do;
    const body = what === "break" && $("break-reason").value ? { reason: $("break-reason").value } : undefined;
    act(button, "POST", `${agentPath}/${what}`, body);
  });

  // the chat's actions
  const chatPath = (tail) => `/chats/${q(selected)}/${tail}`;
  const ACTIONS = {
    activate: ["activate"], park: ["park"], wrapup: ["wrapup"], extend: ["wrapup", { extend: true }],
    finish: ["wrapup", { finish: true }], return: ["return"], "flag-abusive": ["flag-abusive"],
  };
  document.querySelector('[data-group="actions"]').addEventListener("click", (event) => {
    const button = event.target.closest("button[data-do]");
    if (!button || !selected) return;
    const [tail, body] = ACTIONS[button.dataset.do];
    act(button, "POST", chatPath(tail), body);
  });

  $("template").addEventListener("change", () => {
    const chosen = templates.find((t) => t.name === $("template").value);
    if (chosen) $("reply-text").value = chosen.text;
  });
  $("reply").addEventListener("submit", async (event) => {
    event.preventDefault();
    const chosen = templates.find((t) => t.name === $("template").value);
    const text = $("reply-text").value;
    const body = chosen && text === chosen.text ? { template: chosen.name } : { text };
    if (await act(event.submitter || event.target, "POST", chatPath("send"), body)) {
      $("reply-text").value = "";
      $("template").value = "";
    }
  });
  $("reply-text").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) { event.preventDefault(); $("reply").requestSubmit(); }
  });
  $("transfer").addEventListener("submit", (event) => {
    event.preventDefault();
    const [kind, name] = $("transfer-to").value.split(/:(.*)/s);
    act(event.submitter || event.target, "POST", chatPath("transfer"), { [kind]: name });
  });
  $("classify").addEventListener("submit", (event) => {
    event.preventDefault();
    const code = $("code-list").hidden ? $("code-free").value : $("code-list").value;
    const body = { code };
    if ($("code-note").value) body.note = $("code-note").value;
    act(event.submitter || event.target, "POST", chatPath("classify"), body);
  });
  $("contact").addEventListener("submit", (event) => {
    event.preventDefault();
    act(event.submitter || event.target, "POST", chatPath("contact"), { name: $("contact-name").value });
  });

  follow(refresher(read));
}

function clockText() {
  if (!clock.now) return "";
  const shown = new Date(nowMs()).toISOString().replace("T", " ").slice(0, 19);
  return `${shown} (${clock.mode})`;
}

// -- the trainer's room -----------------------------------------------------------------------

function room() {
  $("who").textContent = NS;
  document.title = `${NS} · chatemu room`;
  let agents = [], chats = [];

  async function read() {
    const [clockNow, agentList, chatList, queues, refusals, snapshots] = await Promise.all([
      get("/clock"), get("/agents"), get("/chats?all=true"), get("/queues"), get("/refusals"), get("/snapshots"),
    ]);
    setClock(clockNow);
    agents = agentList; chats = chatList;
    drawAgents();
    drawQueues(queues);
    drawRefusals(refusals);
    tick();
    options($("say-chat"), chats.filter((c) => c.state !== "closed")
      .map((c) => [c.id, `${c.id} ${c.customer || ""} (${c.state})`]));
    options($("snapshot-list"), snapshots.map((s) => [s.name, s.name]));
    $("queue-names").replaceChildren(...queues.map((x) => { const o = el("option"); o.value = x.name; return o; }));
  }

  function drawAgents() {
    $("agents-empty").hidden = agents.length > 0;
    $("agents").replaceChildren(...agents.map((agent) => {
      const row = el("tr");
      row.dataset.agent = agent.id;
      const status = el("td");
      const pill = el("span", "pill", (agent.break_reason ? `${agent.status} (${agent.break_reason})` : agent.status)
        .replace(/-/g, " "));
      pill.dataset.status = agent.status;
      status.append(pill);
      if (agent.on_call) status.append(el("span", "pill call", "on a call"));
      const time = el("td", "time");
      time.dataset.since = agent.status_since;
      const open = el("td", "chips");
      for (const chat of chats.filter((c) => c.agent === agent.id && c.state !== "closed" && c.state !== "queued")) {
        const chip = el("span", "chip");
        chip.append(el("strong", null, chat.id), stateBadge(chat.state));
        const wrap = el("span", "countdown");
        wrap.dataset.chat = chat.id;
        countdown(wrap, chat);
        chip.append(wrap);
        open.append(chip);
      }
      row.append(el("td", null, agent.id), status, time, open);
      return row;
    }));
  }

  function drawQueues(queues) {
    $("queues").replaceChildren(...queues.map((queue) => {
      const row = el("tr");
      row.dataset.queue = queue.name;
      const wait = el("td", "time");
      if (queue.oldest_waiting_since) wait.dataset.since = queue.oldest_waiting_since;
      else wait.textContent = "–";
      row.append(el("td", null, queue.name), el("td", "num", queue.waiting), wait,
        el("td", "muted", queue.serving.join(", ")));
      return row;
    }));
  }

  function drawRefusals(refusals) {
    $("refusals-empty").hidden = refusals.length > 0;
    const byAgent = new Map();
    for (const refusal of refusals) {
      const key = refusal.agent || "(no agent)";
      if (!byAgent.has(key)) byAgent.set(key, []);
      byAgent.get(key).push(refusal);
    }
    $("refusals").replaceChildren(...[...byAgent].map(([name, list]) => {
      const box = el("div", "refusal-group");
      box.dataset.agent = name;
      box.append(el("h3", null, `${name} (${list.length})`));
      const items = el("ol", "refusal-list");
      for (const refusal of list.slice(-20).reverse()) {
        const item = el("li");
        item.append(el("span", "at", refusal.at.slice(11, 19)), el("code", null, refusal.command),
          el("span", "reason", refusal.message));
        items.append(item);
      }
      box.append(items);
      return box;
    }));
  }

  const tick = () => {
    $("clock").textContent = clockText();
    for (const cell of document.querySelectorAll("[data-since]")) cell.textContent = since(cell.dataset.since);
    for (const target of document.querySelectorAll(".countdown")) {
      const chat = chats.find((c) => c.id === target.dataset.chat);
      if (chat) countdown(target, chat);
    }
  };
  tickers.push(tick);

  $("clock-form").addEventListener("submit", (event) => event.preventDefault());
  $("clock-form").addEventListener("click", (event) => {
    const button = event.target.closest("button[data-do]");
    if (!button) return;
    const body = {
      "clock-set": { set: $("clock-set").value }, "clock-advance": { advance: $("clock-advance").value },
      "clock-real": { mode: "real" }, "clock-virtual": { mode: "virtual" },
    }[button.dataset.do];
    act(button, "POST", "/clock", body);
  });
  $("new-chat").addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = { priority: Number($("new-priority").value || 0) };
    if ($("new-customer").value) body.customer = $("new-customer").value;
    if ($("new-queue").value) body.queue = $("new-queue").value;
    if (await act(event.submitter || event.target, "POST", "/chats", body)) $("new-customer").value = "";
  });
  $("say").addEventListener("submit", async (event) => {
    event.preventDefault();
    const chat = $("say-chat").value;
    if (await act(event.submitter || event.target, "POST", `/chats/${q(chat)}/receive`, { text: $("say-text").value })) {
      $("say-text").value = "";
    }
  });
  document.querySelector('#say [data-do="leave"]').addEventListener("click", (event) => {
    act(event.target, "POST", `/chats/${q($("say-chat").value)}/end`);
  });
  $("snapshots").addEventListener("submit", (event) => {
    event.preventDefault();
    act(event.submitter || event.target, "POST", "/snapshots", { name: $("snapshot-name").value });
  });
  document.querySelector('#snapshots [data-do="restore"]').addEventListener("click", (event) => {
    act(event.target, "POST", `/snapshots/${q($("snapshot-list").value)}/restore`);
  });
  document.querySelector('#snapshots [data-do="reset"]').addEventListener("click", (event) => {
    if (confirm(`Reset ${NS}? Every chat, agent and setting goes; snapshots stay.`)) {
      act(event.target, "POST", "/reset", { keep_snapshots: true });
    }
  });

  follow(refresher(read));
}

// -- the login page: a token (or, on an open loopback server, a namespace and an agent) --------

function login() {
  // what a token allows (GET /v1/whoami): {ns, role, agent, open}
  async function whoami(token) {
    const answer = await fetch("/v1/whoami", { headers: token ? { Authorization: `Bearer ${token}` } : {},
                                                cache: "no-store" });
    const value = await answer.json().catch(() => null);
    if (!answer.ok) {
      const error = new Refused(value && typeof value.detail === "string" ? value.detail : `${answer.status} ${answer.statusText}`);
      error.status = answer.status;
      throw error;
    }
    return value;
  }
  function go(who) {
    if (who.role === "agent") location.assign(`/ns/${q(who.ns)}/desk?agent=${q(who.agent)}`);
    else if (who.role === "trainer") location.assign(`/ns/${q(who.ns)}/room`);
    else throw new Refused(`a ${who.role} token has no page here: the desk takes an agent's token, the room a trainer's`);
  }
  function ask(why) {
    $("with-token").hidden = false;
    $("with-token").querySelector(".why").textContent = why || "";
    $("token").focus();
  }
  $("with-token").addEventListener("submit", async (event) => {
    event.preventDefault();
    const token = $("token").value.trim();
    const why = $("with-token").querySelector(".why");
    why.textContent = "";
    try {
      const who = await whoami(token);
      sessionStorage.setItem(TOKEN_KEY, token);
      go(who);
    } catch (error) {
      sessionStorage.removeItem(TOKEN_KEY);
      why.textContent = error.status === 401 ? `this token opens nothing: ${error.message}` : error.message;
    }
  });
  // the page's own address answers whether the namespace's name is one (its reason beside the form)
  async function open(path) {
    const why = $("open").querySelector(".why");
    why.textContent = "";
    const answer = await fetch(path, { cache: "no-store" });
    if (answer.ok) { location.assign(path); return; }
    const value = await answer.json().catch(() => null);
    why.textContent = value && typeof value.detail === "string" ? value.detail : `${answer.status} ${answer.statusText}`;
  }
  $("open").addEventListener("submit", (event) => {
    event.preventDefault();
    open(`/ns/${q($("open-ns").value.trim())}/desk?agent=${q($("open-agent").value.trim() || "agent-1")}`);
  });
  $("open").querySelector('[data-do="room"]').addEventListener("click", () => {
    open(`/ns/${q($("open-ns").value.trim())}/room`);
  });
  (async () => {
    const stored = sessionStorage.getItem(TOKEN_KEY);
    try {
      const who = await whoami(stored);
      if (who.open) {
        $("open").hidden = false;
        $("open-ns").focus();
      } else {
        go(who);
      }
    } catch (error) {
      if (stored) sessionStorage.removeItem(TOKEN_KEY);
      ask(stored ? `this token opens nothing: ${error.message}` : "");
    }
  })();
}

async function tokensAgent() {
  try {
    const answer = await fetch("/v1/whoami", { headers: headers({}), cache: "no-store" });
    const who = answer.ok ? await answer.json() : null;
    return who && who.role === "agent" ? who.agent : null;
  } catch {
    return null;
  }
}

if (PAGE === "desk") {
  if (AGENT) desk();
  else tokensAgent().then((agent) => { AGENT = agent || "agent-1"; desk(); });
}
else if (PAGE === "room") room();
else if (PAGE === "login") login();
