// When WebSocket is refused the client uses SSE; when SSE is refused too it polls the REST
// timeline; when a better way works again it goes back up, losing and repeating nothing.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { LiveStream } from "../tidings.js";
import { tidings, signUp, reader, switchable, waitFor, freshTag, increasing, sleep } from "../support/server.mjs";

let server;
let me;
const lives = [];

before(async () => {
  server = await tidings();
  me = await signUp(server.base, "sylvia");
});

after(async () => {
  for (const live of lives) live.stop();
  await server?.close();
});

function open(tag, r, gate, more = {}) {
  const live = new LiveStream({
    base: server.base, stream: "hashtag", tag, pollPath: `/api/v1/timelines/tag/${tag}`,
    WebSocket: gate.WebSocket, EventSource: gate.EventSource,
    onEvent: r.onEvent, onState: r.onState, onReset: r.onReset,
    fallbackAfter: 1, pollInterval: 300, upgradeInterval: 1000, ...more,
  });
  lives.push(live);
  live.start();
  return live;
}

test("WebSocket refused: SSE carries every notice, edit and deletion once, in order; WebSocket back: it switches up", async () => {
  const tag = freshTag("sse");
  const r = reader();
  const gate = switchable();
  gate.ws = true;
  const live = open(tag, r, gate);
  await waitFor(() => live.state === "live" && live.transport === "sse", "live over SSE");

  const a = await me.post(`One #${tag}`);
  const b = await me.post(`Two #${tag}`);
  await waitFor(() => r.has("update", b), "both notices");
  await me.edit(a, `One, corrected #${tag}`);
  await waitFor(() => r.has("status.update", a), "the edit");
  await me.remove(b);
  await waitFor(() => r.has("delete", b), "the deletion");
  await sleep(1200); // a WebSocket probe or two fails meanwhile, harmlessly
  assert.equal(live.transport, "sse");
  assert.ok(gate.sockets.length >= 2, "WebSocket was tried again beside SSE");
  assert.deepEqual(r.log(), [["update", a], ["update", b], ["status.update", a], ["delete", b]]);
  assert.equal(r.events[3].data, b);
  assert.match(r.events[2].data.content, /corrected/);

  gate.ws = false;
  await waitFor(() => live.transport === "websocket", "back up to WebSocket", 5000);
  const c = await me.post(`Three #${tag}`);
  await waitFor(() => r.has("update", c), "the notice over WebSocket");
  await sleep(300);
  assert.deepEqual(r.log(), [["update", a], ["update", b], ["status.update", a], ["delete", b], ["update", c]]);
  const positions = r.events.map((e) => e.position);
  assert.ok(positions.every(Boolean) && increasing(positions), `positions increase: ${positions}`);
  assert.ok(gate.sources.every((s) => s.readyState === 2), "the SSE connection was closed");
});

test("both refused: polling sees new notices, an edit and a deletion; WebSocket back: it switches up, losing and repeating nothing", async () => {
  const tag = freshTag("poll");
  const r = reader();
  const gate = switchable();
  gate.ws = true;
  gate.sse = true;
  const live = open(tag, r, gate, { knownIds: r.view });
  await waitFor(() => live.state === "live" && live.transport === "polling", "live by polling");

  const a = await me.post(`Polled one #${tag}`);
  const b = await me.post(`Polled two #${tag}`);
  await waitFor(() => r.has("update", b), "both notices");
  await me.edit(a, `Polled one, corrected #${tag}`);
  await waitFor(() => r.has("status.update", a), "the edit");
  await me.remove(b);
  await waitFor(() => r.has("delete", b), "the deletion");
  await sleep(700); // more polls, with nothing new
  assert.deepEqual(r.log(), [["update", a], ["update", b], ["status.update", a], ["delete", b]]);
  assert.ok(r.events.every((e) => e.position === null), "polling has no positions");
  assert.match(r.events[2].data.content, /corrected/);
  assert.equal(live.transport, "polling");

  // The stream resumes from position 0 and replays all of the above: none of it may repeat.
  gate.ws = false;
  await waitFor(() => live.state === "live" && live.transport === "websocket", "back up to WebSocket", 5000);
  await sleep(500);
  assert.equal(r.events.length, 4, `nothing repeated: ${JSON.stringify(r.log())}`);
  const c = await me.post(`Streamed #${tag}`);
  await waitFor(() => r.has("update", c), "a notice over WebSocket");
  await me.edit(a, `Polled one, corrected again #${tag}`);
  await waitFor(() => r.events.filter((e) => e.kind === "status.update").length === 2, "an edit over WebSocket");
  await me.remove(a);
  await waitFor(() => r.has("delete", a), "a deletion over WebSocket");
  await sleep(700); // polls would have come by now
  assert.deepEqual(r.log(), [
    ["update", a], ["update", b], ["status.update", a], ["delete", b],
    ["update", c], ["status.update", a], ["delete", a],
  ]);
  assert.match(r.events[5].data.content, /corrected again/);
  const streamed = r.events.slice(4).map((e) => e.position);
  assert.ok(streamed.every(Boolean) && increasing(streamed), `positions increase: ${streamed}`);
  assert.equal(live.transport, "websocket");
  assert.ok(r.states.includes("live/polling") && r.states.at(-1) === "live/websocket", `states: ${r.states}`);
});
