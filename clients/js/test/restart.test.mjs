// The server is stopped (SIGTERM: its WebSockets close with 1012) and started again on the
// same database and port: the reader comes back by itself, gets what is posted after the
// return once each and in order, and repeats nothing from before the stop.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { LiveStream } from "../tidings.js";
import { tidings, signUp, reader, switchable, waitFor, freshTag, increasing, sleep } from "../support/server.mjs";

let server;
let live;

after(async () => {
  live?.stop();
  await server?.close();
});

test("a server restart: the reader resumes, each notice once and in order, nothing repeated", async () => {
  server = await tidings();
  const me = await signUp(server.base, "rosa");
  const tag = freshTag("restart");
  const r = reader();
  const gate = switchable();
  // Short tunables: while the server is away the client falls all the way to polling
  // (whose first polls fail), and must climb back to WebSocket when it returns.
  live = new LiveStream({
    base: server.base, stream: "hashtag", tag, pollPath: `/api/v1/timelines/tag/${tag}`,
    WebSocket: gate.WebSocket, EventSource: gate.EventSource,
    onEvent: r.onEvent, onState: r.onState, onReset: r.onReset,
    fallbackAfter: 1, pollInterval: 300, upgradeInterval: 1000,
  });
  live.start();
  await waitFor(() => live.state === "live" && live.transport === "websocket", "live over WebSocket");

  const before = [await me.post(`Before the stop #${tag}`), await me.post(`Just before the stop #${tag}`)];
  await waitFor(() => r.has("update", before[1]), "the notices before the stop");
  const closed = new Promise((resolve) => gate.sockets[0].once("close", (code) => resolve(code)));

  const lastSeen = r.events[1].position;
  const subscribed = gate.sent.length;
  await server.stop();
  assert.equal(await closed, 1012, "the server closes its WebSockets with 1012");
  await waitFor(() => live.state === "reconnecting", "the client noticing");
  await sleep(3000); // long enough for every way to fail at least once
  assert.equal(r.events.length, 2);
  await server.start();

  const back = [await me.post(`The server is back #${tag}`), await me.post(`And goes on #${tag}`)];
  await waitFor(() => r.has("update", back[1]), "the notices after the return", 15000);
  await waitFor(() => live.state === "live" && live.transport === "websocket", "back on WebSocket", 15000);
  back.push(await me.post(`Later still #${tag}`));
  await waitFor(() => r.has("update", back[2]), "the notice after the switch back");
  await sleep(500);

  assert.deepEqual(r.log(), [...before, ...back].map((id) => ["update", id]));
  const positioned = r.events.map((e) => e.position).filter(Boolean);
  assert.ok(increasing(positioned), `positions increase: ${positioned}`);
  assert.ok(r.states.includes("reconnecting/null"), `states: ${r.states}`);
  assert.equal(r.resets, 0);
  const resumes = gate.sent.slice(subscribed).map((m) => m.last_event_id);
  assert.ok(resumes.length >= 1 && resumes[0] === lastSeen, `resumed from ${lastSeen}: ${resumes}`);
});
