// Tidings live client: keeps a page's feed current.
//
// It connects over WebSocket and subscribes to one stream, resuming from the last
// position it saw after any disconnect (network loss, server restart, 1012 on a node's
// shutdown, 4008 when it fell behind) with backoff and jitter, so nothing is missed or
// repeated. When WebSocket keeps failing (a proxy that blocks it) it uses Server-Sent
// Events instead, and tries WebSocket again later. A `reset` (a position the server
// cannot serve) reloads the page. When SSE keeps failing too, it polls the REST timeline
// (`pollPath`, with `If-None-Match`) every five seconds for new notices, and every thirty
// seconds tries to stream again.
//
//   import { LiveStream } from "/assets/live.js";
//   const s = new LiveStream({ stream: "hashtag", tag: "election", position: "123",
//                              onEvent: (kind, payload, position) => { … } });
//   s.start();

export class LiveStream {
  constructor({ base = location.origin, stream, tag = "", position = "0", pollPath = "", newestId = () => "", onEvent, onState = () => {} }) {
    this.base = base;
    this.stream = stream;
    this.tag = tag;
    this.position = position;
    this.onEvent = onEvent;
    this.onState = onState;
    this.pollPath = pollPath;
    this.newestId = newestId;
    this.failures = 0;
    this.wsFailures = 0;
    this.sseFailures = 0;
    this.polls = 0;
    this.etag = "";
    this.transport = null;
    this.stopped = false;
  }

  start() {
    this.stopped = false;
    this.connect();
  }

  stop() {
    this.stopped = true;
    this.close();
  }

  close() {
    if (this.socket) { this.socket.onclose = null; this.socket.close(); this.socket = null; }
    if (this.source) { this.source.close(); this.source = null; }
    clearTimeout(this.pollTimer);
  }

  connect() {
    if (this.stopped) return;
    // Three WebSocket failures in a row: SSE; three of those: polling.
    if (this.wsFailures < 3) this.connectWs();
    else if (this.sseFailures < 3 || !this.pollPath) this.connectSse();
    else this.poll();
  }

  async poll() {
    this.transport = "polling";
    this.polls += 1;
    if (this.polls % 6 === 0) {
      // Now and then, try to stream again.
      this.wsFailures = 0;
      this.sseFailures = 0;
      this.connect();
      return;
    }
    const q = new URLSearchParams({ limit: "40" });
    const newest = this.newestId();
    if (newest) q.set("min_id", newest);
    try {
      const res = await fetch(this.base + this.pollPath + (this.pollPath.includes("?") ? "&" : "?") + q, {
        headers: this.etag ? { "if-none-match": this.etag } : {},
      });
      if (res.status === 200) {
        this.etag = res.headers.get("etag") || "";
        const list = await res.json();
        // Oldest first, as they happened.
        for (const s of list.reverse()) this.onEvent("update", JSON.stringify(s), null);
      }
      if (res.ok || res.status === 304) this.onState("live");
    } catch {
      this.onState("reconnecting");
    }
    if (!this.stopped) this.pollTimer = setTimeout(() => this.connect(), 5000);
  }

  retry() {
    this.close();
    if (this.stopped) return;
    this.failures += 1;
    // Backoff by the failures of the way being tried, so that a fallback comes soon.
    const n = this.transport === "sse" ? this.sseFailures : this.wsFailures;
    const ceiling = Math.min(30000, 500 * 2 ** Math.min(Math.max(n, 1), 6));
    const wait = ceiling / 2 + Math.random() * ceiling / 2;
    this.onState("reconnecting");
    setTimeout(() => this.connect(), wait);
  }

  deliver(kind, payload, position) {
    if (position) {
      // Positions are decimal strings of 64-bit integers: compare by length, then text.
      const p = String(position);
      if (p.length < this.position.length || (p.length === this.position.length && p <= this.position)) return;
      this.position = p;
    }
    if (kind === "reset") { location.reload(); return; }
    this.onEvent(kind, payload, position);
  }

  connectWs() {
    const url = this.base.replace(/^http/, "ws") + "/api/v1/streaming";
    // A WebSocket that never opens, or is cut within seconds of opening (a proxy that
    // accepts the upgrade and then drops it), counts as a failure of WebSocket.
    let openedAt = 0;
    const ws = new WebSocket(url);
    this.socket = ws;
    this.transport = "websocket";
    ws.onopen = () => {
      openedAt = Date.now();
      const sub = { type: "subscribe", stream: this.stream, last_event_id: this.position };
      if (this.tag) sub.tag = this.tag;
      ws.send(JSON.stringify(sub));
      this.onState("live");
    };
    ws.onmessage = (m) => {
      let f;
      try { f = JSON.parse(m.data); } catch { return; }
      if (!f.event) return;
      this.deliver(f.event, f.payload, f.id);
    };
    ws.onclose = () => {
      if (!openedAt || Date.now() - openedAt < 5000) {
        this.wsFailures += 1;
      } else {
        this.failures = 0;
        this.wsFailures = 0;
      }
      this.retry();
    };
  }

  connectSse() {
    const path = "/api/v1/streaming/" + this.stream.replace(":", "/");
    const q = new URLSearchParams({ last_event_id: this.position });
    if (this.tag) q.set("tag", this.tag);
    const es = new EventSource(this.base + path + "?" + q);
    this.source = es;
    this.transport = "sse";
    let opened = false;
    es.onopen = () => { opened = true; this.failures = 0; this.sseFailures = 0; this.onState("live"); };
    for (const kind of ["update", "status.update", "delete", "reset"]) {
      es.addEventListener(kind, (e) => this.deliver(kind, e.data, e.lastEventId));
    }
    // EventSource reconnects by itself, but with the position it was opened with only if
    // the server named one; we take over to resume from ours.
    es.onerror = () => {
      if (!opened) this.sseFailures += 1;
      this.retry();
    };
  }
}

// ---- The page: a feed of notices kept current --------------------------------------

const MAX_NOTICES = 300;

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  for (const c of children) e.append(c);
  return e;
}

function name(a) { return a.display_name || a.username; }

// A notice as the server renders it (templates/notice.html). Text goes in as text; the
// content is the server's own sanitised HTML.
export function renderNotice(status) {
  const s = status.reblog || status;
  const article = el("article", { class: "notice" + (s.edited_at ? " edited" : ""), id: "n-" + status.id, "data-id": status.id });
  if (status.reblog) {
    const who = el("a", { href: status.account.url }, name(status.account));
    article.append(el("p", { class: "boost" }, "Shared by ", who));
  }
  const header = el("header", {},
    el("img", { class: "avatar", src: s.account.avatar, alt: "", width: "40", height: "40", loading: "lazy" }),
    el("a", { class: "author", href: s.account.url }, el("strong", {}, name(s.account)), " ", el("span", { class: "handle" }, "@" + s.account.acct)),
    el("a", { class: "when", href: s.url }, el("time", { datetime: s.created_at }, s.created_at)));
  if (s.edited_at) header.append(el("span", { class: "edit-mark", title: "Edited " + s.edited_at }, "edited"));
  article.append(header);
  const content = el("div", { class: "content" });
  content.innerHTML = s.content;
  if (s.spoiler_text) {
    article.append(el("details", {}, el("summary", {}, s.spoiler_text), content));
  } else {
    article.append(content);
  }
  if (s.media_attachments && s.media_attachments.length) {
    const media = el("div", { class: "media" });
    for (const m of s.media_attachments) {
      media.append(el("a", { href: m.url }, el("img", { src: m.preview_url, alt: m.description || "", loading: "lazy" })));
    }
    article.append(media);
  }
  return article;
}

function relative(iso) {
  const s = (Date.now() - Date.parse(iso)) / 1000;
  if (!isFinite(s)) return iso;
  if (s < 45) return "just now";
  if (s < 3600) return Math.round(s / 60) + " min ago";
  if (s < 86400) return Math.round(s / 3600) + " h ago";
  return new Date(iso).toLocaleDateString();
}

function refreshTimes(root) {
  for (const t of root.querySelectorAll("time[datetime]")) t.textContent = relative(t.getAttribute("datetime"));
}

export function attach(box, feed) {
  const status = box.querySelector(".status");
  const more = box.querySelector("button.new");
  let waiting = [];
  const atTop = () => window.scrollY < 80;
  const show = (node) => {
    const li = el("li");
    li.append(node);
    feed.prepend(li);
    while (feed.children.length > MAX_NOTICES) feed.lastElementChild.remove();
  };
  const flush = () => {
    for (const n of waiting) show(n);
    waiting = [];
    more.classList.add("hidden");
    refreshTimes(feed);
  };
  more.addEventListener("click", () => { flush(); window.scrollTo({ top: 0 }); });
  window.addEventListener("scroll", () => { if (atTop() && waiting.length) flush(); });
  const onEvent = (kind, payload) => {
    if (kind === "update") {
      const s = JSON.parse(payload);
      if (document.getElementById("n-" + s.id) || waiting.some((n) => n.id === "n-" + s.id)) return;
      const node = renderNotice(s);
      if (atTop()) { show(node); refreshTimes(node); } else {
        waiting.unshift(node);
        more.textContent = waiting.length + (waiting.length === 1 ? " new notice" : " new notices");
        more.classList.remove("hidden");
      }
      status.textContent = "New notice from " + name((s.reblog || s).account);
    } else if (kind === "status.update") {
      const s = JSON.parse(payload);
      const old = document.getElementById("n-" + s.id);
      if (old) { const node = renderNotice(s); old.replaceWith(node); refreshTimes(node); }
    } else if (kind === "delete") {
      const old = document.getElementById("n-" + payload);
      if (old) old.closest("li")?.remove();
      waiting = waiting.filter((n) => n.id !== "n-" + payload);
    }
  };
  const live = new LiveStream({
    stream: box.dataset.stream,
    tag: box.dataset.tag,
    position: box.dataset.position || "0",
    pollPath: box.dataset.poll || "",
    newestId: () => feed.querySelector("article[data-id]")?.dataset.id || "",
    onEvent,
    onState: (state) => { box.dataset.state = state; },
  });
  live.start();
  refreshTimes(document);
  setInterval(() => refreshTimes(document), 30000);
  // A tab hidden for long lets go of its connection and resumes when shown again.
  let hiddenTimer = null;
  document.addEventListener("visibilitychange", () => {
    if (document.hidden) {
      hiddenTimer = setTimeout(() => live.stop(), 5 * 60 * 1000);
    } else {
      clearTimeout(hiddenTimer);
      if (live.stopped) live.start();
    }
  });
  return live;
}

const box = document.querySelector(".live[data-stream]");
const feed = document.getElementById("feed");
if (box && feed) window.tidingsLive = attach(box, feed);

// ---- The composer: counts characters as the server does ------------------------------

// Mastodon's rule (src/domain/validate.rs): every http(s) link counts as 23 characters,
// everything else one per character; the content warning counts too.
export function countedChars(text) {
  let n = 0;
  for (const word of text.match(/\S+\s*|\s+/gu) || []) {
    const bare = word.trimEnd();
    const tail = [...word].length - [...bare].length;
    const isUrl = /^https?:\/\/./i.test(bare);
    n += isUrl ? Math.min(23, [...bare].length) + tail : [...word].length;
  }
  return n;
}

for (const form of document.querySelectorAll("form.composer")) {
  const text = form.querySelector("textarea[name=status]");
  const warning = form.querySelector("input[name=spoiler_text]");
  const count = form.querySelector(".count");
  const button = form.querySelector("button[type=submit]");
  const max = Number(form.dataset.max || 500);
  const update = () => {
    const left = max - countedChars(text.value) - [...warning.value].length;
    count.textContent = String(left);
    count.classList.toggle("over", left < 0);
    button.disabled = left < 0;
  };
  text.addEventListener("input", update);
  warning.addEventListener("input", update);
  update();
}
