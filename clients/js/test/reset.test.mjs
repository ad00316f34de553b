// A position the server cannot serve gets a `reset`: onReset is called once, and live
// events follow from the server's newest position.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { LiveStream } from "../tidings.js";
import { tidings, signUp, reader, switchable, waitFor, freshTag, sleep } from "../support/server.mjs";

let server;
let me;
const lives = [];

before(async () => {
  server = await tidings();
  me = await signUp(server.base, "ruth");
  await me.post("Something before, so that the newest position is not 0");
});

after(async () => {
  for (const live of lives) live.stop();
  await server?.close();
});

for (const transport of ["websocket", "sse"]) {
  test(`${transport}: a position the server cannot serve calls onReset, then live events follow`, async () => {
    const tag = freshTag("reset");
    const r = reader();
    const gate = switchable();
    const live = new LiveStream({
      base: server.base, stream: "hashtag", tag, position: "999999999999999999", transports: [transport],
      WebSocket: gate.WebSocket, EventSource: gate.EventSource,
      onEvent: r.onEvent, onState: r.onState, onReset: r.onReset,
    });
    lives.push(live);
    live.start();
    await waitFor(() => r.resets > 0, "onReset");
    const { position: newest } = await me.get("/health");
    assert.equal(live.position, newest, "it goes on from the server's newest position");
    assert.equal(live.transport, transport);

    const a = await me.post(`After the reset #${tag}`);
    await waitFor(() => r.has("update", a), "a live notice after the reset");
    await sleep(300);
    assert.equal(r.resets, 1);
    assert.deepEqual(r.log(), [["update", a]], "the reset itself is not an event");
    assert.equal(live.position, r.events[0].position);
    assert.equal(gate.sockets.length + gate.sources.length, 1, "no reconnection");
  });
}
