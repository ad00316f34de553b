// Over WebSocket: notices, their edits and deletions arrive once each and in order, with
// positions; a dropped connection resumes from the last position.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { LiveStream } from "../tidings.js";
import { tidings, signUp, reader, switchable, waitFor, freshTag, increasing, sleep } from "../support/server.mjs";

let server;
let me;
const lives = [];

before(async () => {
  server = await tidings();
  me = await signUp(server.base, "wanda");
});

after(async () => {
  for (const live of lives) live.stop();
  await server?.close();
});

function open(tag, r, gate, more = {}) {
  const live = new LiveStream({
    base: server.base, stream: "hashtag", tag,
    WebSocket: gate.WebSocket, EventSource: gate.EventSource,
    onEvent: r.onEvent, onState: r.onState, onReset: r.onReset,
    fallbackAfter: 2, upgradeInterval: 1000, ...more,
  });
  lives.push(live);
  live.start();
  return live;
}

const positions = (r) => r.events.map((e) => e.position);

test("a new notice, its edit and its deletion arrive over WebSocket once each, in order, positions increasing", async () => {
  const tag = freshTag("ws");
  const r = reader();
  const gate = switchable();
  const live = open(tag, r, gate);
  await waitFor(() => live.state === "live" && live.transport === "websocket", "live over WebSocket");

  const a = await me.post(`First #${tag}`);
  const b = await me.post(`Second #${tag}`);
  await waitFor(() => r.has("update", b), "both notices");
  await me.edit(a, `First, corrected #${tag}`);
  await waitFor(() => r.has("status.update", a), "the edit");
  await me.remove(b);
  await waitFor(() => r.has("delete", b), "the deletion");
  await sleep(300); // anything repeated would come now

  assert.deepEqual(r.log(), [["update", a], ["update", b], ["status.update", a], ["delete", b]]);
  const [first, , edit, gone] = r.events;
  assert.equal(typeof first.data, "object");
  assert.match(first.data.content, /First/);
  assert.match(edit.data.content, /corrected/);
  assert.equal(gone.data, b); // a deletion's data is the id string
  assert.ok(r.events.every((e) => typeof e.position === "string"), "every event has a position");
  assert.ok(increasing(positions(r)), `positions increase: ${positions(r)}`);
  assert.equal(live.position, gone.position);
  assert.equal(live.transport, "websocket");
  assert.equal(gate.sockets.length, 1, "one connection");
  assert.deepEqual(gate.sent, [{ type: "subscribe", stream: "hashtag", tag, last_event_id: "0" }]);
  assert.equal(r.resets, 0);
});

test("a reader gets exactly what came after its position; \"0\" replays the stream's history", async () => {
  const tag = freshTag("pos");
  const ids = [];
  for (const n of [1, 2, 3]) ids.push(await me.post(`Earlier ${n} #${tag}`));

  const all = reader();
  const live = open(tag, all, switchable());
  await waitFor(() => all.ids("update").length === 3, "the history from position 0");
  assert.deepEqual(all.log(), ids.map((id) => ["update", id]));

  const later = reader();
  const after = open(tag, later, switchable(), { position: all.events[0].position });
  await waitFor(() => after.state === "live", "the second reader live");
  const d = await me.post(`Now #${tag}`);
  await waitFor(() => later.has("update", d) && all.has("update", d), "the new notice");
  await sleep(300);
  assert.deepEqual(later.log(), [["update", ids[1]], ["update", ids[2]], ["update", d]]);
  assert.deepEqual(all.log(), [...ids, d].map((id) => ["update", id]));
  assert.ok(increasing(positions(later)));
  assert.deepEqual(positions(later), positions(all).slice(1));
  live.stop();
  after.stop();
});

test("a dropped WebSocket resumes from its last position: what was posted and edited meanwhile arrives once, in order", async () => {
  const tag = freshTag("drop");
  const r = reader();
  const gate = switchable();
  const live = open(tag, r, gate, { transports: ["websocket"] });
  await waitFor(() => live.state === "live" && live.transport === "websocket", "live over WebSocket");
  const n1 = await me.post(`Before the drop #${tag}`);
  await waitFor(() => r.has("update", n1), "the first notice");

  // The network goes (no close handshake) and stays away while three things happen.
  gate.ws = true;
  gate.sockets[0].terminate();
  await waitFor(() => live.state === "reconnecting", "the client noticing");
  const n2 = await me.post(`During the gap #${tag}`);
  const n3 = await me.post(`Still during the gap #${tag}`);
  await me.edit(n1, `Before the drop, corrected during the gap #${tag}`);
  assert.equal(r.events.length, 1);
  gate.ws = false;

  await waitFor(() => live.state === "live" && gate.sent.length === 2, "the reconnection");
  await waitFor(() => r.has("status.update", n1), "the gap replayed");
  const n4 = await me.post(`After the return #${tag}`);
  await waitFor(() => r.has("update", n4), "the notice after the return");
  await sleep(300);

  assert.deepEqual(r.log(), [["update", n1], ["update", n2], ["update", n3], ["status.update", n1], ["update", n4]]);
  assert.ok(increasing(positions(r)), `positions increase: ${positions(r)}`);
  assert.equal(live.transport, "websocket");
  assert.equal(gate.sent.length, 2, "subscribed twice: at the start and once on the return");
  assert.equal(gate.sent[1].last_event_id, r.events[0].position, "it resumed from the last position it saw");
});
