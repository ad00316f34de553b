// Tidings live client: keeps a reader current with one stream of a Tidings server.
//
// An ES module with no dependencies and no build step. Browsers use their own
// WebSocket, EventSource and fetch; elsewhere (Node) pass constructors in. Documented in
// README.md next to this file.
//
// It connects over WebSocket and subscribes to one stream. When WebSocket keeps failing
// (a proxy that blocks it) it uses Server-Sent Events, and when those fail too it polls
// the REST timeline (`pollPath`) with `If-None-Match`, applying new notices, edits and
// deletions it sees there. From a fallback it tries to go back up now and then, and
// switches without a gap when it can. After any disconnect (network loss, a server
// restart, 1012 when a node shuts down, 4008 when the reader fell behind) it resumes
// from the last position it saw, with backoff and jitter, so that it never misses or
// repeats an event. A `reset` (a position the server cannot serve) calls `onReset`: the
// reader's view must be reloaded over REST.

/** Compare two positions (or ids): decimal strings of 64-bit integers. */
export function comparePositions(a, b) {
  const x = String(a);
  const y = String(b);
  if (x.length !== y.length) return x.length - y.length;
  return x < y ? -1 : x > y ? 1 : 0;
}

/** The events a stream may carry (SSE needs their names to listen). */
export const EVENTS = [
  "update", "status.update", "delete", "notification", "conversation",
  "announcement", "announcement.reaction", "announcement.delete", "filters_changed",
  "event.update", "event.pin", "event.unpin", "event.key", "event.unkey", "reset",
];

const TRANSPORTS = ["websocket", "sse", "polling"];

export class LiveStream {
  /**
   * @param {object} o
   * @param {string} o.stream        wire name: "public", "hashtag", "user", "list", …
   * @param {string} [o.tag]         for hashtag streams
   * @param {string} [o.list]        for list streams
   * @param {string} [o.event]       for event streams: the live event's slug
   * @param {string} [o.base]        the server, e.g. "https://tidings.example" (default: this page's origin)
   * @param {string} [o.position]    resume after this position ("0", the default: the stream's whole history)
   * @param {string} [o.accessToken] for streams that need one (else anonymous, or the page's session cookie)
   * @param {string} [o.pollPath]    REST timeline to poll when streams fail, e.g. "/api/v1/timelines/tag/x"
   * @param {string[]} [o.transports] which of "websocket", "sse", "polling" to use, in this order
   * @param {(kind: string, data: any, position: string|null) => void} o.onEvent
   * @param {(state: "connecting"|"live"|"reconnecting"|"stopped", transport: string|null) => void} [o.onState]
   * @param {() => void} [o.onReset] reload the view over REST
   * @param {() => string[]} [o.knownIds] ids of the notices the view shows (polling finds edits and deletions among
   *                                 them; default: those this LiveStream delivered and did not see deleted)
   */
  constructor(o) {
    this.base = (o.base ?? globalThis.location?.origin ?? "").replace(/\/$/, "");
    this.stream = o.stream;
    this.tag = o.tag || "";
    this.list = o.list || "";
    this.event = o.event || "";
    this.position = String(o.position ?? "0");
    this.accessToken = o.accessToken || "";
    this.pollPath = o.pollPath || "";
    this.transports = (o.transports || TRANSPORTS).filter((t) => TRANSPORTS.includes(t));
    this.onEvent = o.onEvent || (() => {});
    this.onState = o.onState || (() => {});
    this.onReset = o.onReset || (() => {});
    this.knownIds = o.knownIds || (() => [...this.versions].filter(([, v]) => v !== null).map(([id]) => id));
    this.WebSocket = o.WebSocket ?? globalThis.WebSocket;
    this.EventSource = o.EventSource ?? globalThis.EventSource;
    this.fetch = o.fetch ?? globalThis.fetch?.bind(globalThis);
    // Tunables (milliseconds); tests shorten them.
    this.pollInterval = o.pollInterval ?? 5000;
    this.upgradeInterval = o.upgradeInterval ?? 30000;
    this.fallbackAfter = o.fallbackAfter ?? 3;
    this.hiddenPause = o.hiddenPause ?? 5 * 60 * 1000;
    this.pollLimit = 40;
    this.failures = { websocket: 0, sse: 0 };
    this.transport = null;
    this.state = "stopped";
    this.stopped = true;
    this.socket = null;
    this.source = null;
    this.timers = new Set();
    this.etag = "";
    this.seen = null;
    // The notices delivered (id → version, null once deleted; the newest `memory`), and
    // which of them polling showed: a stream that resumes after polling replays those.
    this.versions = new Map();
    this.polled = new Set();
    this.memory = 5000;
    this.upgradeTimer = null;
    this.watchVisibility();
  }

  /** Connect (again), from the current position. */
  start() {
    if (!this.stopped) return;
    this.stopped = false;
    this.setState("connecting");
    this.connect();
  }

  /** Close the connection; `start()` resumes where it stopped. */
  stop() {
    this.stopped = true;
    this.closeAll();
    this.transport = null;
    this.setState("stopped");
  }

  // ---- choosing a way -------------------------------------------------------------

  usable(kind) {
    if (!this.transports.includes(kind)) return false;
    if (kind === "websocket") return typeof this.WebSocket === "function";
    if (kind === "sse") return typeof this.EventSource === "function";
    return Boolean(this.pollPath && this.fetch);
  }

  connect() {
    if (this.stopped) return;
    const ways = TRANSPORTS.filter((t) => this.usable(t));
    let way = ways.find((t) => t === "polling" || this.failures[t] < this.fallbackAfter);
    if (!way) {
      // Nothing left to fall back to: keep trying the streams, with backoff.
      this.failures.websocket = 0;
      this.failures.sse = 0;
      way = ways[0];
    }
    if (!way) throw new Error("Tidings LiveStream: no usable transport");
    if (way === "websocket") this.attachWs(this.openWs(), false);
    else if (way === "sse") this.attachSse(this.openSse(), false);
    else this.startPolling();
  }

  /** A way that failed: try again later, or the next way down. */
  failed(kind, counts) {
    if (this.stopped) return;
    if (counts) this.failures[kind] += 1;
    else this.failures[kind] = 0;
    this.transport = null;
    this.cancel(this.upgradeTimer);
    this.setState("reconnecting");
    const n = Math.max(1, this.failures[kind]);
    const ceiling = Math.min(30000, 500 * 2 ** Math.min(n, 6));
    this.later(() => this.connect(), ceiling / 2 + Math.random() * ceiling / 2);
  }

  /** On a fallback, now and then open the better way beside it and switch when it opens. */
  scheduleUpgrade() {
    this.cancel(this.upgradeTimer);
    const better = TRANSPORTS.slice(0, TRANSPORTS.indexOf(this.transport)).filter((t) => this.usable(t));
    if (!better.length) return;
    this.upgradeTimer = this.later(() => {
      if (this.stopped || !this.transport) return;
      if (better.includes("websocket")) this.attachWs(this.openWs(), true, better.includes("sse"));
      else this.attachSse(this.openSse(), true);
    }, this.upgradeInterval);
  }

  /** Switch to `kind`, closing whatever else is open. */
  adopt(kind, conn) {
    if (this.socket && this.socket !== conn) this.dropSocket();
    if (this.source && this.source !== conn) { this.source.close(); this.source = null; }
    if (kind !== "polling") this.stopPolling();
    if (kind === "websocket") this.socket = conn;
    if (kind === "sse") this.source = conn;
    this.transport = kind;
    if (kind !== "polling") this.failures[kind] = 0;
    this.setState("live");
    this.scheduleUpgrade();
  }

  // ---- WebSocket --------------------------------------------------------------------

  openWs() {
    const url = new URL(this.base.replace(/^http/, "ws") + "/api/v1/streaming");
    if (this.accessToken) url.searchParams.set("access_token", this.accessToken);
    return new this.WebSocket(url.toString());
  }

  subscription() {
    const sub = { type: "subscribe", stream: this.stream, last_event_id: this.position };
    if (this.tag) sub.tag = this.tag;
    if (this.list) sub.list = this.list;
    if (this.event) sub.event = this.event;
    return JSON.stringify(sub);
  }

  // `probe`: opened beside a working fallback; on failure it just goes away (and, when
  // `thenSse`, SSE is probed instead).
  attachWs(ws, probe, thenSse = false) {
    let openedAt = 0;
    if (!probe) { this.socket = ws; this.transport = "websocket"; }
    ws.onopen = () => {
      openedAt = Date.now();
      ws.send(this.subscription());
      this.adopt("websocket", ws);
    };
    ws.onmessage = (m) => {
      if (this.socket !== ws) return;
      let f;
      try { f = JSON.parse(String(m.data)); } catch { return; }
      if (f && f.event) this.deliver(f.event, f.payload, f.id ?? null);
      // The server could not serve the subscription now (its history unreadable, too
      // busy): the connection stays open but carries nothing, so start again.
      else if (f && f.error && (!(f.status < 500) || f.status === 429)) ws.close();
    };
    ws.onerror = () => {};
    ws.onclose = () => {
      ws.onclose = null;
      if (this.socket !== ws) {
        // A probe that did not open: stay where we are, try again later.
        if (!openedAt && probe && !this.stopped) {
          if (thenSse) this.attachSse(this.openSse(), true);
          else this.scheduleUpgrade();
        }
        return;
      }
      this.socket = null;
      // Never opened, or cut within seconds (a proxy that accepts the upgrade and then
      // drops it): a failure of WebSocket. A long-lived one that ends: just reconnect.
      this.failed("websocket", !openedAt || Date.now() - openedAt < 5000);
    };
  }

  dropSocket() {
    const ws = this.socket;
    this.socket = null;
    if (ws) { ws.onclose = null; ws.onmessage = null; try { ws.close(); } catch { /* closed */ } }
  }

  // ---- Server-Sent Events ------------------------------------------------------------

  openSse() {
    const q = new URLSearchParams({ last_event_id: this.position });
    if (this.tag) q.set("tag", this.tag);
    if (this.list) q.set("list", this.list);
    if (this.event) q.set("event", this.event);
    if (this.accessToken) q.set("access_token", this.accessToken);
    return new this.EventSource(`${this.base}/api/v1/streaming/${this.stream.replace(":", "/")}?${q}`);
  }

  attachSse(es, probe) {
    let opened = false;
    if (!probe) { this.source = es; this.transport = "sse"; }
    es.onopen = () => { opened = true; this.adopt("sse", es); };
    for (const kind of EVENTS) {
      es.addEventListener(kind, (e) => { if (this.source === es) this.deliver(kind, e.data, e.lastEventId || null); });
    }
    // EventSource would reconnect by itself, with the last id the server sent; we take
    // over, to resume from ours and to fall back when it keeps failing.
    es.onerror = () => {
      es.close();
      if (this.source !== es) {
        if (probe && !this.stopped) this.scheduleUpgrade();
        return;
      }
      this.source = null;
      this.failed("sse", !opened);
    };
  }

  // ---- Polling the REST timeline -----------------------------------------------------

  startPolling() {
    this.transport = "polling";
    this.polling = true;
    this.pollOnce(true);
  }

  stopPolling() {
    this.polling = false;
    clearTimeout(this.pollTimer);
    this.seen = null;
  }

  async pollOnce(first) {
    if (!this.polling || this.stopped) return;
    const sep = this.pollPath.includes("?") ? "&" : "?";
    const headers = {};
    if (this.etag) headers["if-none-match"] = this.etag;
    if (this.accessToken) headers.authorization = `Bearer ${this.accessToken}`;
    let ok = false;
    try {
      const res = await this.fetch(`${this.base}${this.pollPath}${sep}limit=${this.pollLimit}`, { headers });
      if (!this.polling) return;
      if (res.status === 200) {
        const page = await res.json();
        if (!this.polling) return;
        this.etag = res.headers.get("etag") || "";
        this.applyPage(page);
      } else if (res.status !== 304) {
        throw new Error(`status ${res.status}`);
      }
      ok = true;
      // The first poll that answers adopts polling (and schedules going back up).
      if (first) this.adopt("polling", null);
      else this.setState("live");
    } catch {
      if (!this.polling) return;
      this.setState("reconnecting");
      // Not adopted yet, so nothing tries the streams again: let the probes do it.
      if (first && !this.timers.has(this.upgradeTimer)) this.scheduleUpgrade();
    }
    if (this.polling && !this.stopped) {
      this.pollTimer = setTimeout(() => this.pollOnce(first && !ok), this.pollInterval);
    }
  }

  // A page of the timeline (newest first): what is new, what changed, what is gone.
  // A version is null when unknown (a notice of `knownIds` this LiveStream never delivered).
  applyPage(list) {
    const known = this.seen ?? new Map(this.knownIds().map((id) => [String(id), this.versions.get(String(id)) ?? null]));
    const now = new Map();
    for (const s of list) now.set(String(s.id), version(s));
    const oldest = list.length ? String(list[list.length - 1].id) : null;
    for (const s of [...list].reverse()) {
      const id = String(s.id);
      const had = known.get(id);
      if (!known.has(id)) this.onEvent("update", s, null);
      else if (had ? newer(now.get(id), had) : s.edited_at) this.onEvent("status.update", s, null);
      this.remember(id, now.get(id), true);
    }
    for (const id of known.keys()) {
      const inWindow = list.length < this.pollLimit || (oldest && comparePositions(id, oldest) >= 0);
      if (!now.has(id) && inWindow) {
        this.onEvent("delete", id, null);
        this.remember(id, null, true);
      }
    }
    this.seen = now;
  }

  // ---- delivery ------------------------------------------------------------------------

  deliver(kind, payload, position) {
    let data = payload;
    if (typeof payload === "string" && (payload[0] === "{" || payload[0] === "[")) {
      try { data = JSON.parse(payload); } catch { /* leave as text */ }
    }
    if (kind === "reset") {
      // Comes instead of the position asked for (which the server does not have, so
      // usually beyond its newest): live events follow from the newest.
      const head = position || data?.position;
      if (head) this.position = String(head);
      this.seen = null;
      this.onReset();
      return;
    }
    if (position) {
      if (comparePositions(position, this.position) <= 0) return;
      this.position = String(position);
    }
    if (!this.unseen(kind, data)) return;
    this.onEvent(kind, data, position);
  }

  // Polling delivers notices without positions, so a stream that resumes after it
  // replays them: let through only what the reader has not had yet.
  unseen(kind, data) {
    if (kind === "delete") {
      const id = String(data);
      if (this.polled.has(id) && this.versions.get(id) === null) return false;
      this.remember(id, null, false);
    } else if ((kind === "update" || kind === "status.update") && data && data.id != null) {
      const id = String(data.id);
      const v = version(data);
      if (this.polled.has(id)) {
        const had = this.versions.get(id);
        if (had === null || kind === "update" || !newer(v, had)) return false;
      }
      this.remember(id, v, false);
    }
    return true;
  }

  remember(id, v, polled) {
    this.versions.delete(id);
    this.versions.set(id, v);
    if (polled) this.polled.add(id);
    if (this.versions.size > this.memory) {
      const oldest = this.versions.keys().next().value;
      this.versions.delete(oldest);
      this.polled.delete(oldest);
    }
  }

  // ---- housekeeping ----------------------------------------------------------------------

  setState(state) {
    this.state = state;
    this.onState(state, this.transport);
  }

  later(fn, ms) {
    const t = setTimeout(() => { this.timers.delete(t); fn(); }, ms);
    this.timers.add(t);
    return t;
  }

  cancel(t) {
    clearTimeout(t);
    this.timers.delete(t);
  }

  closeAll() {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.dropSocket();
    if (this.source) { this.source.close(); this.source = null; }
    this.stopPolling();
  }

  // A browser tab hidden for long lets go of its connection and resumes when shown.
  watchVisibility() {
    const doc = globalThis.document;
    if (!doc || !this.hiddenPause) return;
    let timer = null;
    doc.addEventListener("visibilitychange", () => {
      if (doc.hidden) {
        timer = setTimeout(() => { this.pausedByTab = !this.stopped; this.stop(); }, this.hiddenPause);
      } else {
        clearTimeout(timer);
        if (this.pausedByTab) { this.pausedByTab = false; this.start(); }
      }
    });
  }
}

// What a `status.update` can change that a reader sees: the text (an edit), a poll's counts.
function version(s) {
  return [Date.parse(s.edited_at || "") || 0, s.poll?.votes_count ?? 0];
}

function newer(a, b) {
  return a[0] !== b[0] ? a[0] > b[0] : a[1] > b[1];
}

/**
 * Characters of a notice as the server counts them (Mastodon's rule): every http(s)
 * link counts as 23, everything else one per character (code point). Words end at
 * Unicode White_Space, as the server's do (JavaScript's `\s` also takes U+FEFF).
 */
export function countedChars(text) {
  let n = 0;
  for (const word of text.match(/\P{White_Space}+\p{White_Space}*|\p{White_Space}+/gu) || []) {
    const bare = word.replace(/\p{White_Space}+$/u, "");
    const tail = [...word].length - [...bare].length;
    const isUrl = /^https?:\/\/./i.test(bare);
    n += isUrl ? Math.min(23, [...bare].length) + tail : [...word].length;
  }
  return n;
}
