// Tidings pages: keep a page's feed current and count the composer's characters.
//
// The connection itself (WebSocket, then SSE, then polling; resume by position) is the
// live client of clients/js (served here as ./tidings.js); this file is what the pages
// do with its events: render notices as the server does (templates/notice.html), keep
// "N new notices" while the reader has scrolled down, announce them politely to screen
// readers, update relative times, and hold at most MAX_NOTICES in the DOM.

import { LiveStream, countedChars, comparePositions } from "./tidings.js";

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

// Every rendering of notice `id` on the page (an event page shows a pinned one twice).
function notices(id) {
  return [...document.querySelectorAll("article.notice[data-id]")].filter((a) => a.dataset.id === String(id));
}

function shown(root, id) {
  return [...root.querySelectorAll("article.notice[data-id]")].some((a) => a.dataset.id === String(id));
}

// ---- A live event's page: its state, pinned notices and key events --------------------

const eventPage = {
  keys: () => document.getElementById("keys"),
  pinned: () => document.getElementById("pinned"),
  // Show the "none yet" line and the pinned section as their lists say.
  tidy() {
    const keys = this.keys();
    if (keys) document.getElementById("keys-empty")?.classList.toggle("hidden", keys.children.length > 0);
    const pinned = this.pinned();
    if (pinned) pinned.closest("section")?.classList.toggle("hidden", pinned.children.length === 0);
  },
  unkey(id) {
    for (const li of [...(this.keys()?.children || [])]) if (li.dataset.id === id) li.remove();
  },
  on(kind, data) {
    if (kind === "event.update" && data) {
      const state = document.getElementById("event-state");
      if (state) {
        state.className = "badge is-" + data.state;
        state.textContent = { upcoming: "Upcoming", live: "Live", ended: "Ended" }[data.state] || data.state;
      }
      const title = document.getElementById("event-title");
      if (title && data.title) title.textContent = data.title;
      const description = document.getElementById("event-description");
      if (description) description.textContent = data.description || "";
      const status = document.querySelector(".live .status");
      if (status && data.state === "ended") status.textContent = "The event has ended";
      return;
    }
    const id = data && String(data.status_id);
    if (!id) return;
    if (kind === "event.key") {
      this.unkey(id);
      const keys = this.keys();
      if (keys) {
        const link = el("a", { href: "#n-" + id }, data.label || "");
        const li = el("li", { "data-id": id }, link, " ", el("time", { datetime: data.at || "" }, data.at ? relative(data.at) : ""));
        keys.prepend(li);
        const status = document.querySelector(".live .status");
        if (status) status.textContent = "Key event: " + (data.label || "");
      }
    } else if (kind === "event.unkey") {
      this.unkey(id);
    } else if (kind === "event.pin") {
      const pinned = this.pinned();
      const source = notices(id).find((a) => !pinned?.contains(a));
      if (pinned && source && !shown(pinned, id)) {
        const copy = source.cloneNode(true);
        copy.removeAttribute("id");
        const li = el("li");
        li.append(copy);
        pinned.prepend(li);
      }
    } else if (kind === "event.unpin") {
      for (const a of [...(this.pinned()?.querySelectorAll("article.notice[data-id]") || [])]) {
        if (a.dataset.id === id) a.closest("li")?.remove();
      }
    }
    this.tidy();
  },
};

export function attach(box, feed) {
  const status = box.querySelector(".status");
  const more = box.querySelector("button.new");
  let waiting = [];
  const atTop = () => window.scrollY < 80;
  // The oldest go; "Older notices" then starts right after the oldest still shown.
  const trim = () => {
    if (feed.children.length <= MAX_NOTICES) return;
    while (feed.children.length > MAX_NOTICES) feed.lastElementChild.remove();
    const older = document.querySelector(".older a");
    const last = feed.lastElementChild?.querySelector("article[data-id]");
    if (older && last) {
      const u = new URL(older.href);
      u.searchParams.set("max_id", last.dataset.id);
      older.href = u.pathname + u.search;
    }
  };
  // In id order: a notice older than the top (seen late, as by polling) goes in its place.
  const place = (node) => {
    const li = el("li");
    li.append(node);
    const after = [...feed.querySelectorAll(":scope > li > article[data-id]")]
      .find((a) => comparePositions(a.dataset.id, node.dataset.id) < 0);
    if (after) after.parentElement.before(li); else feed.append(li);
    trim();
  };
  const flush = () => {
    for (const n of waiting.reverse()) place(n);
    waiting = [];
    more.classList.add("hidden");
    refreshTimes(feed);
  };
  const top = () => feed.querySelector("article[data-id]")?.dataset.id || "0";
  more.addEventListener("click", () => { flush(); window.scrollTo({ top: 0 }); });
  window.addEventListener("scroll", () => { if (atTop() && waiting.length) flush(); });
  const onEvent = (kind, data) => {
    if (kind === "update") {
      const s = data;
      if (shown(feed, s.id) || waiting.some((n) => n.id === "n-" + s.id)) return;
      const node = renderNotice(s);
      if (atTop() || comparePositions(s.id, top()) < 0) { place(node); refreshTimes(node); } else {
        waiting.unshift(node);
        more.textContent = waiting.length + (waiting.length === 1 ? " new notice" : " new notices");
        more.classList.remove("hidden");
      }
      status.textContent = "New notice from " + name((s.reblog || s).account);
    } else if (kind === "status.update") {
      // Wherever it is shown: the feed, and on an event page its pinned copy.
      for (const old of notices(data.id)) {
        const node = renderNotice(data);
        // A pinned copy carries no id: the notice's id belongs to the feed's.
        if (!old.id) node.removeAttribute("id");
        old.replaceWith(node);
        refreshTimes(node);
      }
      waiting = waiting.map((n) => (n.id === "n-" + data.id ? renderNotice(data) : n));
    } else if (kind === "delete") {
      for (const old of notices(data)) old.closest("li")?.remove();
      waiting = waiting.filter((n) => n.id !== "n-" + data);
      eventPage.unkey(String(data));
      eventPage.tidy();
    } else if (kind.startsWith("event.")) {
      eventPage.on(kind, data);
    }
  };
  // A position the server cannot serve: read the latest page over REST and start over.
  const reload = async () => {
    if (!box.dataset.poll) { location.reload(); return; }
    const res = await fetch(box.dataset.poll + (box.dataset.poll.includes("?") ? "&" : "?") + "limit=40");
    if (!res.ok) { location.reload(); return; }
    const list = await res.json();
    waiting = [];
    more.classList.add("hidden");
    feed.replaceChildren();
    for (const s of list) place(renderNotice(s));
    refreshTimes(feed);
  };
  const live = new LiveStream({
    stream: box.dataset.stream,
    tag: box.dataset.tag,
    event: box.dataset.event,
    position: box.dataset.position || "0",
    pollPath: box.dataset.poll || "",
    knownIds: () => [...feed.querySelectorAll("article[data-id]")].map((a) => a.dataset.id),
    onEvent,
    onReset: reload,
    onState: (state) => { box.dataset.state = state; },
  });
  live.start();
  refreshTimes(document);
  setInterval(() => refreshTimes(document), 30000);
  return live;
}

// On an event page a pinned notice is also in the feed: the feed's copy keeps the id
// (the key events link to it).
for (const a of document.querySelectorAll("#pinned article[id]")) {
  if (document.querySelector(`#feed article[data-id="${a.dataset.id}"]`)) a.removeAttribute("id");
}

const box = document.querySelector(".live[data-stream]");
const feed = document.getElementById("feed");
if (box && feed) window.tidingsLive = attach(box, feed);

// ---- The composer: counts characters as the server does ------------------------------

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
