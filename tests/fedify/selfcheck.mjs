// Self-check for peer.mjs, without Tidings.  Starts two Fedify peers (A, B)
// and a bare node:http server "carol" (C) that plays the part Tidings plays:
// it serves an actor document, answers WebFinger, signs its own requests with
// draft-cavage HTTP Signatures and verifies the ones Fedify sends it.
//
//   node selfcheck.mjs        exits 0 when every check passed, 1 otherwise
//
// Everything listens on 127.0.0.1 and every wait is bounded.

import { spawn } from "node:child_process";
import {
  createHash,
  createPublicKey,
  createSign,
  createVerify,
  generateKeyPairSync,
} from "node:crypto";
import http from "node:http";
import path from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const AS = "https://www.w3.org/ns/activitystreams";
let passed = 0;
let failed = 0;
const children = [];

function check(name, ok, detail) {
  if (ok) {
    passed++;
    console.log(`ok   ${name}`);
  } else {
    failed++;
    console.log(`FAIL ${name}${detail === undefined ? "" : `: ${JSON.stringify(detail)}`}`);
  }
  return ok;
}

function startPeer(name) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(here, "peer.mjs"), "0", "--stdin-lifeline"], {
      stdio: ["pipe", "pipe", "pipe"],
      env: { ...process.env, FEDIFY_PEER_MAX_SECONDS: "300" },
    });
    children.push(child);
    const stderr = [];
    child.stderr.on("data", (d) => stderr.push(d));
    const timer = setTimeout(() => reject(new Error(`${name} did not start:\n${Buffer.concat(stderr)}`)), 20000);
    let out = "";
    child.stdout.on("data", (d) => {
      out += d;
      const m = /^ready (\d+)$/m.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ name, port: Number(m[1]), base: `http://127.0.0.1:${m[1]}`, child, stderr });
      }
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited (${code}):\n${Buffer.concat(stderr)}`));
    });
  });
}

async function api(peer, method, p, body) {
  const res = await fetch(`${peer.base}/control/${p}`, {
    method,
    headers: body ? { "Content-Type": "application/json" } : {},
    body: body ? JSON.stringify(body) : undefined,
    signal: AbortSignal.timeout(30000),
  });
  const text = await res.text();
  let value;
  try {
    value = JSON.parse(text);
  } catch {
    value = text;
  }
  return { status: res.status, value };
}

const waitFor = (peer, type, min = 1) =>
  api(peer, "GET", `received?type=${type}&min=${min}&wait_ms=10000`).then((r) => r.value);

// ------------------------------------------------------------ draft-cavage HTTP Signatures, as a Tidings-like server does them

function digestOf(body) {
  return "SHA-256=" + createHash("sha256").update(body).digest("base64");
}

// Sign a request the Mastodon way.  `names` is the signed header list.
function signedHeaders({ method, url, body, keyId, privateKey, names, date, digest }) {
  const u = new URL(url);
  const h = {
    host: u.host,
    date: date ?? new Date().toUTCString(),
    "content-type": "application/activity+json",
    accept: "application/activity+json",
  };
  if (body != null) h.digest = digest ?? digestOf(body);
  names ??= body != null
    ? ["(request-target)", "host", "date", "digest", "content-type"]
    : ["(request-target)", "host", "date", "accept"];
  const signingString = names
    .map((n) => n === "(request-target)"
      ? `(request-target): ${method.toLowerCase()} ${u.pathname}${u.search}`
      : `${n}: ${h[n]}`)
    .join("\n");
  const signature = createSign("RSA-SHA256").update(signingString).sign(privateKey, "base64");
  h.signature = `keyId="${keyId}",algorithm="rsa-sha256",headers="${names.join(" ")}",signature="${signature}"`;
  return h;
}

async function postSigned(url, activity, opts = {}) {
  const body = JSON.stringify(activity);
  const headers = opts.unsigned
    ? { "content-type": "application/activity+json" }
    : signedHeaders({ method: "POST", url, body, keyId: carol.keyId, privateKey: carol.privateKey, ...opts });
  const res = await fetch(url, {
    method: "POST",
    headers,
    body: opts.tamper ? body.replace("}", ',"x":1}') : body,
    signal: AbortSignal.timeout(30000),
  });
  return { status: res.status, text: await res.text() };
}

// Verify a captured request the way a Tidings inbox would: parse Signature,
// rebuild the signing string from the listed headers, fetch keyId (the actor
// document, Accept: application/activity+json), find publicKey.id == keyId.
async function verifyCaptured(req) {
  const sig = req.headers.signature;
  if (sig == null) return { ok: false, why: "no Signature header" };
  const fields = Object.fromEntries(
    [...sig.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]),
  );
  const names = fields.headers.split(" ");
  const signingString = names
    .map((n) => n === "(request-target)"
      ? `(request-target): ${req.method.toLowerCase()} ${req.url}`
      : `${n}: ${req.headers[n]}`)
    .join("\n");
  const actorUrl = fields.keyId.replace(/#.*$/, "");
  const actor = await (await fetch(actorUrl, {
    headers: { Accept: "application/activity+json" },
  })).json();
  const keys = [actor.publicKey].flat();
  const key = keys.find((k) => k.id === fields.keyId);
  if (key == null) return { ok: false, why: "no publicKey with that id" };
  const ok = createVerify("RSA-SHA256").update(signingString)
    .verify(createPublicKey(key.publicKeyPem), fields.signature, "base64");
  const digestOk = req.body.length === 0 || req.headers.digest === digestOf(req.body);
  return {
    ok: ok && digestOk,
    algorithm: fields.algorithm,
    headers: fields.headers,
    keyId: fields.keyId,
    digest: req.headers.digest,
    contentDigest: req.headers["content-digest"] ?? null,
    signatureInput: req.headers["signature-input"] ?? null,
    why: ok ? (digestOk ? null : "digest mismatch") : "signature does not verify",
  };
}

// ------------------------------------------------------------ carol: a bare AP server (stands in for Tidings)

const { publicKey: carolPub, privateKey: carolPriv } = generateKeyPairSync("rsa", { modulusLength: 2048 });
const carol = {
  privateKey: carolPriv.export({ type: "pkcs8", format: "pem" }),
  publicKeyPem: carolPub.export({ type: "spki", format: "pem" }),
  captured: [], // every request carol's server got
};

function startCarol() {
  return new Promise((resolve) => {
    const server = http.createServer((req, res) => {
      const chunks = [];
      req.on("data", (c) => chunks.push(c));
      req.on("end", () => {
        const body = Buffer.concat(chunks);
        const u = new URL(req.url, carol.base);
        carol.captured.push({ method: req.method, url: req.url, headers: req.headers, body });
        if (req.method === "GET" && u.pathname === "/.well-known/webfinger") {
          res.setHeader("Content-Type", "application/jrd+json");
          res.end(JSON.stringify({
            subject: `acct:carol@${carol.host}`,
            links: [{ rel: "self", type: "application/activity+json", href: carol.actor }],
          }));
        } else if (req.method === "GET" && u.pathname === "/users/carol") {
          res.setHeader("Content-Type", "application/activity+json");
          res.end(JSON.stringify({
            "@context": [AS, "https://w3id.org/security/v1"],
            id: carol.actor,
            type: "Person",
            preferredUsername: "carol",
            inbox: `${carol.actor}/inbox`,
            followers: `${carol.actor}/followers`,
            publicKey: { id: carol.keyId, owner: carol.actor, publicKeyPem: carol.publicKeyPem },
          }));
        } else if (req.method === "POST" && u.pathname === "/users/carol/inbox") {
          res.statusCode = 202;
          res.end();
        } else {
          res.statusCode = 404;
          res.end();
        }
      });
    });
    server.listen(0, "127.0.0.1", () => {
      carol.port = server.address().port;
      carol.host = `127.0.0.1:${carol.port}`;
      carol.base = `http://${carol.host}`;
      carol.actor = `${carol.base}/users/carol`;
      carol.keyId = `${carol.actor}#main-key`;
      carol.server = server;
      resolve();
    });
  });
}

async function carolInbox(type, min = 1) {
  const deadline = Date.now() + 10000;
  for (;;) {
    const got = carol.captured.filter((r) =>
      r.method === "POST" && r.url === "/users/carol/inbox" &&
      JSON.parse(r.body.toString()).type === type
    );
    if (got.length >= min || Date.now() > deadline) return got;
    await new Promise((r) => setTimeout(r, 25));
  }
}

// ------------------------------------------------------------ the checks

async function main() {
  await startCarol();
  const [A, B] = await Promise.all([startPeer("A"), startPeer("B")]);
  const aliceA = `${A.base}/users/alice`;
  const aliceB = `${B.base}/users/alice`;
  console.log(`# peers A=${A.base} B=${B.base}, carol=${carol.base}`);

  // 1. A follows alice@B by handle; B accepts.
  const f = await api(A, "POST", "follow", { handle: `alice@127.0.0.1:${B.port}` });
  check("A follows alice@B by handle", f.status === 200 && f.value.actor === aliceB, f);
  const accepts = await waitFor(A, "Accept");
  check("A got a verified Accept from B", accepts.length === 1 && accepts[0].actor === aliceB &&
    accepts[0].object === f.value.follow, accepts);
  const follows = await waitFor(B, "Follow");
  check("B recorded the Follow", follows.length === 1 && follows[0].actor === aliceA &&
    follows[0].inbox === "alice", follows);
  const stateA = (await api(A, "GET", "state")).value;
  check("A's follow is accepted", stateA.following[0]?.state === "accepted", stateA.following);
  const stateB = (await api(B, "GET", "state")).value;
  check("B lists A's alice as follower", stateB.followers.includes(aliceA), stateB.followers);

  // 2. B posts; A (a follower) and carol's extra inbox receive Create.
  const p = await api(B, "POST", "post", {
    content: "<p>hello from B</p>",
    inboxes: [`${carol.actor}/inbox`],
  });
  check("B posted", p.status === 200 && p.value.id === `${aliceB}/notes/1`, p);
  const creates = await waitFor(A, "Create");
  check("A got a verified Create with the Note's content", creates.length === 1 &&
    creates[0].object === p.value.id && creates[0].content === "<p>hello from B</p>" &&
    creates[0].inbox === "shared", creates);
  const note = await (await fetch(p.value.id, { headers: { Accept: "application/activity+json" } })).json();
  check("the Note can be fetched", note.type === "Note" && note.content === "<p>hello from B</p>", note);

  const [cCreate] = await carolInbox("Create");
  check("carol's inbox got the Create", cCreate != null);
  if (cCreate != null) {
    const v = await verifyCaptured(cCreate);
    check("Fedify's POST verifies as draft-cavage rsa-sha256", v.ok, v);
    console.log(`#   POST Signature headers="${v.headers}" Digest=${v.digest?.slice(0, 12)}...` +
      ` Content-Digest=${v.contentDigest} Signature-Input=${v.signatureInput}`);
    console.log(`#   POST Content-Type=${cCreate.headers["content-type"]} User-Agent=${cCreate.headers["user-agent"]}`);
    const body = JSON.parse(cCreate.body.toString());
    console.log(`#   body keys: ${Object.keys(body).join(",")}; to=${JSON.stringify(body.to)}` +
      ` signature.type=${body.signature?.type}`);
  }

  // 3. Update and Delete.
  const u = await api(B, "POST", "update", { id: p.value.id, content: "<p>edited</p>" });
  check("B updated", u.status === 200, u);
  const updates = await waitFor(A, "Update");
  check("A got Update with the new content", updates.length === 1 &&
    updates[0].object === p.value.id && updates[0].content === "<p>edited</p>", updates);
  const d = await api(B, "POST", "delete", { id: p.value.id });
  check("B deleted", d.status === 200, d);
  const deletes = await waitFor(A, "Delete");
  check("A got Delete of the note", deletes.length === 1 && deletes[0].object === p.value.id, deletes);
  const gone = await fetch(p.value.id, { headers: { Accept: "application/activity+json" } });
  check("the deleted Note is no longer served", gone.status === 404, gone.status);

  // 4. A unfollows B.
  const un = await api(A, "POST", "unfollow", { actor: aliceB });
  check("A unfollowed", un.status === 200, un);
  const undos = await waitFor(B, "Undo");
  check("B got Undo{Follow} and dropped the follower", undos.length === 1 &&
    undos[0].object_type === "Follow" && undos[0].note === "follower removed", undos);

  // 5. carol (signed by hand, draft-cavage) follows A's alice.
  const followId = `${carol.actor}/follows/1`;
  const r1 = await postSigned(`${A.base}/users/alice/inbox`, {
    "@context": AS, id: followId, type: "Follow", actor: carol.actor, object: aliceA,
  });
  check("A accepts carol's signed Follow (202)", r1.status === 202, r1);
  const [cAccept] = await carolInbox("Accept");
  check("carol got an Accept", cAccept != null);
  if (cAccept != null) {
    const v = await verifyCaptured(cAccept);
    check("the Accept verifies", v.ok, v);
    const body = JSON.parse(cAccept.body.toString());
    check("the Accept embeds carol's Follow", body.object?.id === followId, body.object);
  }
  const gets = carol.captured.filter((r) => r.method === "GET" && r.url === "/users/carol");
  if (gets.length > 0) {
    console.log(`#   A fetched carol's actor with Accept="${gets[0].headers.accept}"` +
      ` Signature=${gets[0].headers.signature ? `headers="${/headers="([^"]*)"/.exec(gets[0].headers.signature)[1]}"` : "none"}`);
  }
  check("A lists carol as a follower",
    (await api(A, "GET", "state")).value.followers.includes(carol.actor));

  // 6. carol's Create to A's shared inbox, signing only the required headers.
  const r2 = await postSigned(`${A.base}/inbox`, {
    "@context": AS, id: `${carol.actor}/notes/1/activity`, type: "Create", actor: carol.actor,
    to: [`${AS}#Public`],
    object: {
      id: `${carol.actor}/notes/1`, type: "Note", attributedTo: carol.actor,
      content: "<p>from carol</p>", to: [`${AS}#Public`],
    },
  }, { names: ["(request-target)", "date", "digest"] });
  check("A accepts a Create signed over (request-target) date digest only", r2.status === 202, r2);
  const cr = (await waitFor(A, "Create", 2)).at(-1);
  check("A recorded carol's Create", cr?.actor === carol.actor && cr?.content === "<p>from carol</p>", cr);

  // 7. What A refuses.
  const mk = (n) => ({ "@context": AS, id: `${carol.actor}/likes/${n}`, type: "Like", actor: carol.actor, object: aliceA });
  const bad = [
    ["unsigned", mk(1), { unsigned: true }],
    ["body changed after signing (digest mismatch)", mk(2), { tamper: true }],
    ["digest not among the signed headers", mk(3), { names: ["(request-target)", "host", "date"] }],
    ["date not signed", mk(4), { names: ["(request-target)", "host", "digest"] }],
    ["Date two hours old", mk(5), { date: new Date(Date.now() - 2 * 3600e3).toUTCString() }],
    ["actor is not the key's owner", { ...mk(6), actor: aliceB }, {}],
    ["query string signed into (request-target)", mk(7), { query: true }],
  ];
  for (const [name, activity, opts] of bad) {
    const url = `${A.base}/users/alice/inbox${opts.query ? "?x=1" : ""}`;
    const r = await postSigned(url, activity, opts);
    check(`A refuses: ${name}`, r.status === 401, r);
    console.log(`#   -> ${r.status} ${r.text}`);
  }
  const ok = await postSigned(`${A.base}/users/alice/inbox`, mk(8));
  check("A accepts the same Like when signed properly (202)", ok.status === 202, ok);
  const rejected = (await api(A, "GET", "state")).value.rejected;
  check("A's /control/state lists the refusals", rejected.length === bad.length, rejected.length);

  // 8. A follows carol by handle (plain-http WebFinger on a non-Fedify server).
  const fc = await api(A, "POST", "follow", { handle: `carol@${carol.host}` });
  check("A follows carol@127.0.0.1:<port> by handle", fc.status === 200 && fc.value.actor === carol.actor, fc);
  const [cFollow] = await carolInbox("Follow");
  check("carol got a Follow that verifies", cFollow != null && (await verifyCaptured(cFollow)).ok);
}

try {
  await main();
} catch (error) {
  failed++;
  console.log(`FAIL ${error?.stack ?? error}`);
} finally {
  for (const c of children) c.kill("SIGTERM");
  carol.server?.close();
}
console.log(`selfcheck: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
