// What the tests share: a real Tidings server of their own, a user on it, and small waits.
// (Kept outside test/: `node --test test/` runs every module under test/ as a test file.)
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { WebSocket } from "ws";
import { EventSource } from "eventsource";

const here = fileURLToPath(new URL(".", import.meta.url));
export const BIN = resolve(here, "..", process.env.TIDINGS_BIN || "../../target/debug/tidings");

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Wait until `cond()` is truthy (and return it); fail naming `what` after `ms`. */
export async function waitFor(cond, what, ms = 10000) {
  const until = Date.now() + ms;
  for (;;) {
    const v = await cond();
    if (v) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

async function freePort() {
  const s = createServer();
  await new Promise((r) => s.listen(0, "127.0.0.1", r));
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return port;
}

/**
 * Start a Tidings server on a fresh SQLite database in a temporary directory.
 * `stop()` sends SIGTERM (WebSockets close with 1012) and waits for the exit; `start()`
 * starts it again on the same port and database; `close()` stops it and removes the files.
 */
export async function tidings() {
  const dir = await mkdtemp(join(tmpdir(), "tidings-js-"));
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const env = { ...process.env, DATABASE_URL: `sqlite://${join(dir, "tidings.db")}?mode=rwc`, RUST_LOG: "warn" };
  let proc = null;
  let log = "";
  const kill = () => proc?.kill("SIGKILL");
  process.on("exit", kill);

  const server = {
    base,
    port,
    async start() {
      const child = spawn(BIN, ["--listen", `127.0.0.1:${port}`], { env, stdio: ["ignore", "ignore", "pipe"] });
      proc = child;
      child.stderr.on("data", (d) => { log = (log + d).slice(-4000); });
      const exited = new Promise((r) => child.once("exit", (code) => r(code)));
      for (let i = 0; i < 300; i++) {
        const code = await Promise.race([exited, sleep(0).then(() => undefined)]);
        if (code !== undefined) throw new Error(`tidings exited (${code}) at start:\n${log}`);
        try {
          if ((await fetch(base + "/health")).ok) return;
        } catch { /* not yet */ }
        await sleep(50);
      }
      throw new Error(`tidings did not answer /health:\n${log}`);
    },
    async stop() {
      const child = proc;
      if (!child || child.exitCode !== null || child.signalCode !== null) return;
      const gone = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      await gone;
    },
    async close() {
      await server.stop();
      process.off("exit", kill);
      await rm(dir, { recursive: true, force: true });
    },
  };
  await server.start();
  return server;
}

async function call(base, method, path, body, token) {
  const headers = { "content-type": "application/json" };
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(base + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: res.status, json, text };
}

/** Sign a new user up through the API; returns helpers that act as her. */
export async function signUp(base, username) {
  const app = await call(base, "POST", "/api/v1/apps", {
    client_name: "tidings.js tests", redirect_uris: "urn:ietf:wg:oauth:2.0:oob", scopes: "read write",
  });
  if (app.status !== 200) throw new Error(`apps: ${app.status} ${app.text}`);
  const grant = await call(base, "POST", "/oauth/token", {
    grant_type: "client_credentials", client_id: app.json.client_id, client_secret: app.json.client_secret, scope: "read write",
  });
  if (grant.status !== 200) throw new Error(`token: ${grant.status} ${grant.text}`);
  const account = await call(base, "POST", "/api/v1/accounts", {
    username, email: `${username}@example.com`, password: "a long passphrase here", agreement: true,
  }, grant.json.access_token);
  if (account.status !== 200) throw new Error(`sign up: ${account.status} ${account.text}`);
  const token = account.json.access_token;
  const ok = (what, r) => {
    if (r.status !== 200) throw new Error(`${what}: ${r.status} ${r.text}`);
    return r.json;
  };
  return {
    token,
    /** Post a notice; returns its id. */
    post: async (status) => ok(`post ${status}`, await call(base, "POST", "/api/v1/statuses", { status }, token)).id,
    /** Post and return the whole answer ({status, json}), whatever it is. */
    tryPost: (status) => call(base, "POST", "/api/v1/statuses", { status }, token),
    edit: async (id, status) => ok(`edit ${id}`, await call(base, "PUT", `/api/v1/statuses/${id}`, { status }, token)),
    remove: async (id) => ok(`delete ${id}`, await call(base, "DELETE", `/api/v1/statuses/${id}`, undefined, token)),
    get: async (path) => ok(`get ${path}`, await call(base, "GET", path, undefined, token)),
  };
}

/** A fresh tag per story, so that no story sees another's notices. */
export function freshTag(name) {
  return `${name}${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
}

/**
 * What a reader saw: every onEvent call as {kind, id, data, position}, and the states.
 * `ids(kind)` lists the ids of one kind in arrival order; `view()` the notices a view
 * would show now (for `knownIds`).
 */
export function reader() {
  const r = {
    events: [],
    states: [],
    resets: 0,
    onEvent: (kind, data, position) => {
      const id = kind === "delete" ? String(data) : String(data?.id ?? "");
      r.events.push({ kind, id, data, position });
    },
    onState: (state, transport) => r.states.push(`${state}/${transport}`),
    onReset: () => { r.resets += 1; },
    ids: (kind) => r.events.filter((e) => e.kind === kind).map((e) => e.id),
    has: (kind, id) => r.events.some((e) => e.kind === kind && e.id === id),
    view: () => {
      const shown = new Set();
      for (const e of r.events) {
        if (e.kind === "update") shown.add(e.id);
        if (e.kind === "delete") shown.delete(e.id);
      }
      return [...shown];
    },
    /** [kind, id] of every event, for exact comparisons. */
    log: () => r.events.map((e) => [e.kind, e.id]),
  };
  return r;
}

/**
 * WebSocket (from `ws`) and EventSource (from `eventsource`) that a test can refuse and
 * let through again: while `refuse` is set they are pointed at a path the server answers
 * 404 (a proxy that blocks them). Every WebSocket made is kept in `sockets`, every
 * message sent over one in `sent` (parsed), every EventSource in `sources`.
 */
export function switchable() {
  const gate = { ws: false, sse: false, sockets: [], sent: [], sources: [] };
  gate.WebSocket = class extends WebSocket {
    constructor(url, ...rest) {
      super(gate.ws ? String(url).replace("/api/v1/streaming", "/blocked/streaming") : url, ...rest);
      gate.sockets.push(this);
    }

    send(data, ...rest) {
      gate.sent.push(JSON.parse(data));
      return super.send(data, ...rest);
    }
  };
  gate.EventSource = class extends EventSource {
    constructor(url, ...rest) {
      super(gate.sse ? String(url).replace("/api/v1/streaming", "/blocked/streaming") : url, ...rest);
      gate.sources.push(this);
    }
  };
  return gate;
}

/** Positions strictly increase, in arrival order (those that have one). */
export function increasing(positions) {
  for (let i = 1; i < positions.length; i++) {
    if (!(BigInt(positions[i]) > BigInt(positions[i - 1]))) return false;
  }
  return true;
}

export { WebSocket, EventSource };
