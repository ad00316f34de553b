// A real Fedify (1.5.x) ActivityPub server, used only by Tidings' federation
// tests.  It has one actor, `alice`, and a JSON control API under /control/
// that a test drives.  See README.md.
//
// Usage: node peer.mjs <port>        (port 0 picks a free port)
// Prints exactly one line to stdout, `ready <port>`, once it is listening on
// 127.0.0.1:<port>.  Everything else goes to stderr.
//
// Environment:
//   FEDIFY_PEER_LOG          log level for Fedify and the peer (default "info";
//                            "debug" shows why a signature was refused)
//   FEDIFY_PEER_MAX_SECONDS  exit after this many seconds (default 1800, 0 = never),
//                            so that a peer whose test died does not linger
// Flag:
//   --stdin-lifeline         exit when stdin reaches EOF (the parent went away)

import { AsyncLocalStorage } from "node:async_hooks";
import http from "node:http";
import process from "node:process";
import {
  Accept,
  Activity,
  Announce,
  Create,
  Delete,
  Endpoints,
  Follow,
  isActor,
  MemoryKvStore,
  Note,
  Person,
  PUBLIC_COLLECTION,
  Reject,
  Tombstone,
  Undo,
  Update,
  createFederation,
} from "@fedify/fedify";
import { configure, defaultTextFormatter, getLogger } from "@logtape/logtape";
// Node 20 has no global Temporal; Fedify uses this polyfill, so share it.
import { Temporal } from "@js-temporal/polyfill";

const IDENTIFIER = "alice";

// ---------------------------------------------------------------- arguments

const args = process.argv.slice(2);
const portArg = args.find((a) => !a.startsWith("--"));
if (portArg == null || !/^\d+$/.test(portArg) || Number(portArg) > 65535) {
  process.stderr.write("usage: node peer.mjs <listen port> [--stdin-lifeline]\n");
  process.exit(2);
}

// ---------------------------------------------------------------- logging (stderr only)

const level = process.env.FEDIFY_PEER_LOG || "info";
await configure({
  contextLocalStorage: new AsyncLocalStorage(),
  sinks: {
    stderr: (record) => process.stderr.write(defaultTextFormatter(record)),
  },
  loggers: [
    { category: "fedify", lowestLevel: level, sinks: ["stderr"] },
    { category: "peer", lowestLevel: level, sinks: ["stderr"] },
    { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["stderr"] },
  ],
});
const log = getLogger(["peer"]);

// ---------------------------------------------------------------- state (in memory, for the life of the process)

// RSASSA-PKCS1-v1_5, 2048 bits, SHA-256: what Mastodon uses.  (Fedify's own
// generateCryptoKeyPair("RSASSA-PKCS1-v1_5") makes 4096-bit keys, which is
// slower to generate and not what the brief asked for.)  Must be extractable:
// Fedify's validateCryptoKey() refuses non-extractable keys.
const keyPair = await crypto.subtle.generateKey(
  {
    name: "RSASSA-PKCS1-v1_5",
    modulusLength: 2048,
    publicExponent: new Uint8Array([1, 0, 1]),
    hash: "SHA-256",
  },
  true,
  ["sign", "verify"],
);

const state = {
  followPolicy: "accept", // "accept" | "reject" | "ignore"
  received: [], // every verified activity the inbox got, in order
  rejected: [], // inbox POSTs Fedify refused (status >= 400), for debugging
  errors: [], // failures of background work (e.g. sending an Accept)
  followers: new Map(), // actor id -> { id, inboxId, endpoints } (a Fedify Recipient)
  following: new Map(), // actor id -> { actor, follow, inbox, state }
  notes: new Map(), // n -> { n, content, published, updated, deleted, extra }
  nextNote: 1,
};

// ---------------------------------------------------------------- federation

function buildFederation(origin) {
  const federation = createFederation({
    kv: new MemoryKvStore(),
    // No `queue`: Fedify then delivers in-process and immediately, and
    // ctx.sendActivity() resolves only after every inbox answered 2xx (it
    // throws otherwise).  Incoming activities are likewise handled before the
    // inbox POST is answered.
    origin, // canonical base URL: http://127.0.0.1:<port>
    allowPrivateAddress: true, // loopback fetches (actor docs, keys, WebFinger)
  });

  federation
    .setActorDispatcher("/users/{identifier}", async (ctx, identifier) => {
      if (identifier !== IDENTIFIER) return null;
      const keys = await ctx.getActorKeyPairs(identifier);
      return new Person({
        id: ctx.getActorUri(identifier),
        preferredUsername: identifier,
        name: "Alice (Fedify test peer)",
        summary: "A Fedify peer used by Tidings' federation tests.",
        url: ctx.getActorUri(identifier),
        inbox: ctx.getInboxUri(identifier),
        endpoints: new Endpoints({ sharedInbox: ctx.getInboxUri() }),
        followers: ctx.getFollowersUri(identifier),
        manuallyApprovesFollowers: false,
        discoverable: true,
        publicKey: keys[0].cryptographicKey,
        assertionMethods: keys.map((k) => k.multikey),
      });
    })
    .mapHandle((_ctx, username) => username === IDENTIFIER ? IDENTIFIER : null)
    .setKeyPairsDispatcher((_ctx, identifier) =>
      identifier === IDENTIFIER ? [keyPair] : []
    );

  federation.setFollowersDispatcher(
    "/users/{identifier}/followers",
    (_ctx, identifier, _cursor) => {
      if (identifier !== IDENTIFIER) return null;
      return { items: [...state.followers.values()] };
    },
  ).setCounter((_ctx, identifier) =>
    identifier === IDENTIFIER ? state.followers.size : null
  );

  federation.setObjectDispatcher(
    Note,
    "/users/{identifier}/notes/{n}",
    (ctx, { identifier, n }) => {
      if (identifier !== IDENTIFIER) return null;
      const note = state.notes.get(Number(n));
      if (note == null || note.deleted) return null;
      return buildNote(ctx, note);
    },
  );

  const listeners = federation.setInboxListeners(
    "/users/{identifier}/inbox",
    "/inbox",
  );
  listeners
    .on(Follow, onFollow)
    .on(Accept, (ctx, a) => onResponse(ctx, a, "accepted"))
    .on(Reject, (ctx, a) => onResponse(ctx, a, "rejected"))
    .on(Create, record)
    .on(Update, record)
    .on(Delete, record)
    .on(Announce, record)
    .on(Undo, onUndo)
    // Anything else (Like, Block, Move, ...) is recorded too; Fedify picks the
    // most specific registered class, so this is only a fallback.
    .on(Activity, record)
    .onError((ctx, error) => {
      log.error("inbox listener failed: {error}", { error });
      state.errors.push({ where: "inbox", error: String(error?.stack ?? error) });
    });

  return federation;
}

function buildNote(ctx, note) {
  const id = ctx.getObjectUri(Note, { identifier: IDENTIFIER, n: String(note.n) });
  return new Note({
    id,
    attribution: ctx.getActorUri(IDENTIFIER),
    content: note.content,
    url: id,
    published: Temporal.Instant.from(note.published),
    updated: note.updated == null ? null : Temporal.Instant.from(note.updated),
    to: PUBLIC_COLLECTION,
    ccs: [ctx.getFollowersUri(IDENTIFIER), ...note.mentions.map((m) => new URL(m))],
  });
}

// ---------------------------------------------------------------- inbox listeners

async function record(ctx, activity, extra = {}) {
  const entry = {
    type: activity.constructor.name,
    id: activity.id?.href ?? null,
    actor: activity.actorId?.href ?? null,
    object: activity.objectId?.href ?? null,
    object_type: null,
    content: null,
    inbox: ctx.recipient == null ? "shared" : ctx.recipient,
    ...extra,
  };
  let object = null;
  try {
    // Embedded objects come back as-is; a bare id is fetched (signed GET
    // when the activity came to alice's own inbox).
    object = await activity.getObject(ctx);
  } catch (error) {
    entry.object_error = String(error);
  }
  if (object != null) {
    entry.object_type = object.constructor.name;
    entry.object ??= object.id?.href ?? null;
    if (
      (activity instanceof Create || activity instanceof Update) &&
      object.content != null
    ) {
      entry.content = object.content.toString();
    }
    if (object instanceof Activity) {
      entry.object_object = object.objectId?.href ?? null;
      entry.object_actor = object.actorId?.href ?? null;
    }
  }
  entry.raw = ctx.data?.body ?? null; // the JSON exactly as received
  entry.signature = ctx.data?.signature ?? null; // the Signature header
  entry.received_at = new Date().toISOString();
  state.received.push(entry);
  log.info("received {type} {id} from {actor}", entry);
  return { entry, object };
}

async function onFollow(ctx, follow) {
  const { entry } = await record(ctx, follow);
  const parsed = ctx.parseUri(follow.objectId);
  if (parsed?.type !== "actor" || parsed.identifier !== IDENTIFIER) {
    entry.note = "not a follow of alice; ignored";
    return;
  }
  if (follow.id == null || follow.actorId == null) {
    entry.note = "follow without id or actor; ignored";
    return;
  }
  const follower = await follow.getActor(ctx);
  if (follower == null || !isActor(follower) || follower.inboxId == null) {
    entry.note = "could not fetch the follower's actor document";
    return;
  }
  const policy = state.followPolicy;
  entry.policy = policy;
  if (policy === "ignore") return;
  if (policy === "accept") {
    state.followers.set(follower.id.href, {
      id: follower.id,
      inboxId: follower.inboxId,
      endpoints: follower.endpoints?.sharedInbox == null
        ? null
        : { sharedInbox: follower.endpoints.sharedInbox },
    });
  }
  const Cls = policy === "accept" ? Accept : Reject;
  const response = new Cls({
    id: new URL(
      `/users/${IDENTIFIER}#${policy}s/${crypto.randomUUID()}`,
      ctx.origin,
    ),
    actor: ctx.getActorUri(IDENTIFIER),
    to: follower.id,
    // A fresh, minimal copy of the Follow (Mastodon embeds it the same way).
    object: new Follow({
      id: follow.id,
      actor: follow.actorId,
      object: follow.objectId,
    }),
  });
  // Sent after the Follow's POST has been answered, as Mastodon does from a
  // background job: the follower may still be inside its own request.
  setTimeout(() => {
    ctx.sendActivity({ identifier: IDENTIFIER }, follower, response)
      .then(() => log.info("sent {type} of {follow} to {inbox}", {
        type: Cls.name,
        follow: follow.id.href,
        inbox: follower.inboxId.href,
      }))
      .catch((error) => {
        log.error("sending {type} failed: {error}", { type: Cls.name, error });
        state.errors.push({
          where: `send ${Cls.name} to ${follower.inboxId.href}`,
          error: String(error?.message ?? error),
        });
      });
  }, 0);
}

async function onResponse(ctx, activity, newState) {
  const { entry, object } = await record(ctx, activity);
  const followId = object instanceof Follow ? object.id?.href : activity.objectId?.href;
  let matched = null;
  for (const f of state.following.values()) {
    if (f.follow === followId) matched = f;
  }
  // Some servers answer with only the follow's actor/object; fall back to
  // the sender of the Accept.
  if (matched == null && activity.actorId != null) {
    matched = state.following.get(activity.actorId.href) ?? null;
  }
  if (matched != null && matched.actor === activity.actorId?.href) {
    matched.state = newState;
    entry.follow = matched.follow;
  }
}

async function onUndo(ctx, undo) {
  const { entry, object } = await record(ctx, undo);
  if (object instanceof Follow && undo.actorId != null) {
    const parsed = ctx.parseUri(object.objectId);
    if (
      parsed?.type === "actor" && parsed.identifier === IDENTIFIER &&
      object.actorId?.href === undo.actorId.href
    ) {
      entry.note = state.followers.delete(undo.actorId.href)
        ? "follower removed"
        : "was not a follower";
    }
  }
}

// ---------------------------------------------------------------- control API

class HttpError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

function json(status, value) {
  return new Response(JSON.stringify(value, null, 1) + "\n", {
    status,
    headers: { "Content-Type": "application/json" },
  });
}

async function readJson(request) {
  const text = await request.text();
  if (text.trim() === "") return {};
  try {
    return JSON.parse(text);
  } catch {
    throw new HttpError(400, "body is not JSON");
  }
}

// WebFinger over plain http.  Fedify 1.5's lookupWebFinger() always uses
// https:// for acct: resources (webfinger/lookup.js), which cannot reach a
// loopback test server, so the peer asks http:// first and only then falls
// back to Fedify's own lookup.
async function resolveActor(ctx, { handle, actor }) {
  let object = null;
  if (actor != null) {
    object = await ctx.lookupObject(new URL(actor));
  } else if (handle != null) {
    const m = /^(?:acct:)?@?([^@\s]+)@([^@\s]+)$/.exec(handle);
    if (m == null) throw new HttpError(400, `bad handle ${handle}`);
    const resource = `acct:${m[1]}@${m[2]}`;
    const url = new URL(`http://${m[2]}/.well-known/webfinger`);
    url.searchParams.set("resource", resource);
    let self = null;
    try {
      const res = await fetch(url, { headers: { Accept: "application/jrd+json" } });
      if (res.ok) {
        const jrd = await res.json();
        self = (jrd.links ?? []).find((l) =>
          l.rel === "self" &&
          (l.type === "application/activity+json" ||
            /^application\/ld\+json/.test(l.type ?? ""))
        )?.href ?? null;
        if (self == null) log.warn("WebFinger {url} had no self link", { url: url.href });
      } else {
        log.warn("WebFinger {url} answered {status}", { url: url.href, status: res.status });
      }
    } catch (error) {
      log.warn("WebFinger {url} failed: {error}", { url: url.href, error });
    }
    object = self != null
      ? await ctx.lookupObject(new URL(self))
      : await ctx.lookupObject(resource);
  } else {
    throw new HttpError(400, "need handle or actor");
  }
  if (object == null || !isActor(object) || object.id == null || object.inboxId == null) {
    throw new HttpError(404, `could not resolve ${handle ?? actor} to an actor with an inbox`);
  }
  return object;
}

function toRecipient(actor) {
  return {
    id: actor.id,
    inboxId: actor.inboxId,
    endpoints: actor.endpoints?.sharedInbox == null
      ? null
      : { sharedInbox: actor.endpoints.sharedInbox },
  };
}

// Extra delivery targets: bare inbox URLs.
function inboxRecipients(inboxes) {
  if (inboxes == null) return [];
  if (!Array.isArray(inboxes)) throw new HttpError(400, "inboxes must be a list");
  return inboxes.map((i) => ({ id: new URL(i), inboxId: new URL(i), endpoints: null }));
}

// Deliver to alice's followers (shared inboxes preferred, as Mastodon does),
// plus the note's mentioned actors and any extra inboxes.  Fedify dedupes
// inboxes within each call; the peer dedupes across the calls.
async function deliver(ctx, activity, { toFollowers, recipients, sharedInbox }) {
  const opts = { preferSharedInbox: sharedInbox };
  const all = [];
  if (toFollowers) all.push(...state.followers.values());
  all.push(...recipients);
  const seen = new Set();
  const unique = [];
  for (const r of all) {
    const inbox = (sharedInbox && r.endpoints?.sharedInbox) || r.inboxId;
    if (inbox == null || seen.has(inbox.href)) continue;
    seen.add(inbox.href);
    unique.push(r);
  }
  if (unique.length > 0) {
    await ctx.sendActivity({ identifier: IDENTIFIER }, unique, activity, opts);
  }
  return [...seen];
}

function findNote(ctx, id) {
  if (id == null) throw new HttpError(400, "need id");
  const parsed = ctx.parseUri(new URL(id));
  const n = Number(parsed?.type === "object" ? parsed.values.n : NaN);
  const note = state.notes.get(n);
  if (note == null) throw new HttpError(404, `no note ${id}`);
  return note;
}

async function control(ctx, request, path) {
  const method = request.method;
  const url = new URL(request.url);
  if (method === "GET" && path === "received") {
    // ?type=Create filters; ?wait_ms=5000&min=1 waits until at least `min`
    // matching entries arrived (or the time is up) and answers either way.
    const type = url.searchParams.get("type");
    const waitMs = Math.min(Number(url.searchParams.get("wait_ms") ?? 0), 60000);
    const min = Number(url.searchParams.get("min") ?? 1);
    const pick = () => state.received.filter((e) => type == null || e.type === type);
    const deadline = Date.now() + waitMs;
    while (pick().length < min && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 25));
    }
    return json(200, pick());
  }
  if (method === "GET" && path === "state") {
    return json(200, {
      actor: ctx.getActorUri(IDENTIFIER).href,
      follow_policy: state.followPolicy,
      followers: [...state.followers.keys()],
      following: [...state.following.values()],
      notes: [...state.notes.values()].map((n) => ({
        id: ctx.getObjectUri(Note, { identifier: IDENTIFIER, n: String(n.n) }).href,
        content: n.content,
        deleted: n.deleted,
      })),
      rejected: state.rejected,
      errors: state.errors,
    });
  }
  if (method !== "POST") throw new HttpError(405, "POST only");
  const body = await readJson(request);

  switch (path) {
    case "config": {
      if (body.follow_policy != null) {
        if (!["accept", "reject", "ignore"].includes(body.follow_policy)) {
          throw new HttpError(400, "follow_policy: accept | reject | ignore");
        }
        state.followPolicy = body.follow_policy;
      }
      return json(200, { follow_policy: state.followPolicy });
    }
    case "follow": {
      const actor = await resolveActor(ctx, body);
      const followId = new URL(`/users/${IDENTIFIER}/follows/${crypto.randomUUID()}`, ctx.origin);
      const follow = new Follow({
        id: followId,
        actor: ctx.getActorUri(IDENTIFIER),
        object: actor.id,
        to: actor.id,
      });
      state.following.set(actor.id.href, {
        actor: actor.id.href,
        follow: followId.href,
        inbox: actor.inboxId.href,
        state: "pending",
      });
      await ctx.sendActivity({ identifier: IDENTIFIER }, toRecipient(actor), follow);
      return json(200, { actor: actor.id.href, follow: followId.href, inbox: actor.inboxId.href });
    }
    case "unfollow": {
      if (body.actor == null) throw new HttpError(400, "need actor");
      const f = state.following.get(body.actor);
      if (f == null) throw new HttpError(404, `not following ${body.actor}`);
      const undoId = new URL(`${f.follow}/undo`);
      const undo = new Undo({
        id: undoId,
        actor: ctx.getActorUri(IDENTIFIER),
        to: new URL(f.actor),
        object: new Follow({
          id: new URL(f.follow),
          actor: ctx.getActorUri(IDENTIFIER),
          object: new URL(f.actor),
        }),
      });
      await ctx.sendActivity(
        { identifier: IDENTIFIER },
        { id: new URL(f.actor), inboxId: new URL(f.inbox), endpoints: null },
        undo,
      );
      state.following.delete(body.actor);
      return json(200, { actor: f.actor, undo: undoId.href });
    }
    case "post": {
      if (typeof body.content !== "string") throw new HttpError(400, "need content");
      const mentions = [];
      for (const m of body.mentions ?? []) mentions.push(await resolveActor(ctx, { actor: m }));
      const n = state.nextNote++;
      const note = {
        n,
        content: body.content,
        published: new Date().toISOString(),
        updated: null,
        deleted: false,
        mentions: mentions.map((a) => a.id.href),
        extra: {
          toFollowers: body.to_followers !== false,
          sharedInbox: body.shared_inbox !== false,
          recipients: [...mentions.map(toRecipient), ...inboxRecipients(body.inboxes)],
        },
      };
      state.notes.set(n, note);
      const object = buildNote(ctx, note);
      const create = new Create({
        id: new URL(`${object.id.href}/activity`),
        actor: ctx.getActorUri(IDENTIFIER),
        object,
        published: object.published,
        to: PUBLIC_COLLECTION,
        ccs: object.ccIds,
      });
      const inboxes = await deliver(ctx, create, note.extra);
      return json(200, { id: object.id.href, create: create.id.href, inboxes });
    }
    case "update": {
      const note = findNote(ctx, body.id);
      if (note.deleted) throw new HttpError(410, "note was deleted");
      if (typeof body.content !== "string") throw new HttpError(400, "need content");
      note.content = body.content;
      note.updated = new Date().toISOString();
      const object = buildNote(ctx, note);
      const update = new Update({
        id: new URL(`${object.id.href}#updates/${Date.now()}-${crypto.randomUUID()}`),
        actor: ctx.getActorUri(IDENTIFIER),
        object,
        published: object.updated,
        to: PUBLIC_COLLECTION,
        ccs: object.ccIds,
      });
      const extra = { ...note.extra, recipients: [...note.extra.recipients, ...inboxRecipients(body.inboxes)] };
      const inboxes = await deliver(ctx, update, extra);
      return json(200, { id: object.id.href, update: update.id.href, inboxes });
    }
    case "delete": {
      const note = findNote(ctx, body.id);
      note.deleted = true;
      const noteId = ctx.getObjectUri(Note, { identifier: IDENTIFIER, n: String(note.n) });
      const del = new Delete({
        id: new URL(`${noteId.href}#delete`),
        actor: ctx.getActorUri(IDENTIFIER),
        object: new Tombstone({ id: noteId }),
        to: PUBLIC_COLLECTION,
        ccs: [ctx.getFollowersUri(IDENTIFIER), ...note.mentions.map((m) => new URL(m))],
      });
      const extra = { ...note.extra, recipients: [...note.extra.recipients, ...inboxRecipients(body.inboxes)] };
      const inboxes = await deliver(ctx, del, extra);
      return json(200, { id: noteId.href, delete: del.id.href, inboxes });
    }
    case "send": {
      // Escape hatch: any activity as JSON-LD, signed and sent by alice.
      // {"activity": {...}, "to": ["<actor id>", ...], "inboxes": [...],
      //  "to_followers": false}
      if (body.activity == null) throw new HttpError(400, "need activity");
      const activity = await Activity.fromJsonLd(
        { "@context": "https://www.w3.org/ns/activitystreams", ...body.activity },
        ctx,
      );
      const recipients = inboxRecipients(body.inboxes);
      for (const a of body.to ?? []) recipients.push(toRecipient(await resolveActor(ctx, { actor: a })));
      const inboxes = await deliver(ctx, activity, {
        toFollowers: body.to_followers === true,
        recipients,
        sharedInbox: body.shared_inbox === true,
      });
      return json(200, { id: activity.id?.href ?? null, inboxes });
    }
    case "shutdown": {
      setTimeout(() => process.exit(0), 10);
      return json(200, { bye: true });
    }
  }
  throw new HttpError(404, `no control endpoint ${method} /control/${path}`);
}

// ---------------------------------------------------------------- HTTP glue (node:http <-> fetch API)

const INBOX_PATH = /^\/(inbox|users\/[^/]+\/inbox)\/?$/;

async function handle(federation, origin, req, res) {
  const host = req.headers.host ?? new URL(origin).host;
  const url = new URL(req.url ?? "/", `http://${host}`);
  const chunks = [];
  for await (const c of req) chunks.push(c);
  const body = chunks.length > 0 ? Buffer.concat(chunks) : null;
  const headers = new Headers();
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    headers.append(req.rawHeaders[i], req.rawHeaders[i + 1]);
  }
  const hasBody = req.method !== "GET" && req.method !== "HEAD";
  const request = new Request(url, {
    method: req.method,
    headers,
    body: hasBody ? body ?? "" : undefined,
  });

  let response;
  try {
    if (url.pathname.startsWith("/control/")) {
      const ctx = federation.createContext(new URL(origin), {});
      response = await control(ctx, request, url.pathname.slice("/control/".length));
    } else {
      let parsed = null;
      if (hasBody && body != null) {
        try {
          parsed = JSON.parse(body.toString("utf8"));
        } catch { /* Fedify answers 400 */ }
      }
      const contextData = { body: parsed, signature: headers.get("signature") };
      response = await federation.fetch(request, {
        contextData,
        onNotFound: () => new Response("Not found\n", { status: 404 }),
        onNotAcceptable: () => new Response("Not acceptable\n", { status: 406 }),
      });
      if (req.method === "POST" && INBOX_PATH.test(url.pathname) && response.status >= 400) {
        const text = await response.clone().text();
        state.rejected.push({
          path: url.pathname,
          status: response.status,
          reason: text,
          signature: headers.get("signature"),
          date: headers.get("date"),
          digest: headers.get("digest"),
          body: parsed,
          at: new Date().toISOString(),
        });
        log.warn("inbox refused a POST to {path}: {status} {reason}", {
          path: url.pathname,
          status: response.status,
          reason: text,
        });
      }
    }
  } catch (error) {
    const status = error instanceof HttpError ? error.status : 502;
    if (!(error instanceof HttpError)) log.error("request failed: {error}", { error });
    response = json(status, { error: String(error?.message ?? error) });
  }

  res.statusCode = response.status;
  response.headers.forEach((value, name) => res.setHeader(name, value));
  const out = Buffer.from(await response.arrayBuffer());
  res.end(req.method === "HEAD" ? undefined : out);
}

// ---------------------------------------------------------------- start

let federation = null;
let origin = null;
const server = http.createServer((req, res) => {
  if (federation == null) {
    res.statusCode = 503;
    res.end();
    return;
  }
  handle(federation, origin, req, res).catch((error) => {
    log.error("unhandled: {error}", { error });
    if (!res.headersSent) res.statusCode = 500;
    res.end();
  });
});
server.listen(Number(portArg), "127.0.0.1", () => {
  const port = server.address().port;
  origin = `http://127.0.0.1:${port}`;
  federation = buildFederation(origin);
  log.info("Fedify peer listening on {origin}; actor {origin}/users/alice", { origin });
  process.stdout.write(`ready ${port}\n`);
});
server.on("error", (error) => {
  process.stderr.write(`listen failed: ${error}\n`);
  process.exit(1);
});

for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => process.exit(0));
if (args.includes("--stdin-lifeline")) {
  process.stdin.on("end", () => process.exit(0));
  process.stdin.on("close", () => process.exit(0));
  process.stdin.resume();
}
const maxSeconds = Number(process.env.FEDIFY_PEER_MAX_SECONDS ?? 1800);
if (maxSeconds > 0) {
  setTimeout(() => {
    process.stderr.write(`exiting after ${maxSeconds}s (FEDIFY_PEER_MAX_SECONDS)\n`);
    process.exit(0);
  }, maxSeconds * 1000).unref();
}
