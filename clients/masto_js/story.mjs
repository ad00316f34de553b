// masto.js, unmodified, against a Tidings node: a reporter posts, corrects and deletes a
// notice; a reader who follows her watches the public, hashtag and home streams over one
// multiplexed WebSocket. Run by tests/clients.rs: `node story.mjs BASE_URL`.
import {
  createOAuthAPIClient,
  createRestAPIClient,
  createStreamingAPIClient,
} from "masto";
import WebSocket from "ws";

const url = process.argv[2];
const fail = (why) => {
  console.error(`masto.js story failed: ${why}`);
  process.exit(1);
};
setTimeout(() => fail("took longer than 60 s"), 60_000).unref();

const app = await createRestAPIClient({ url }).v1.apps.create({
  clientName: "masto.js story",
  redirectUris: "urn:ietf:wg:oauth:2.0:oob",
  scopes: "read write follow",
});
const appToken = await createOAuthAPIClient({ url }).token.create({
  grantType: "client_credentials",
  clientId: app.clientId,
  clientSecret: app.clientSecret,
  scope: "read write",
});
const signUp = async (username) => {
  const token = await createRestAPIClient({
    url,
    accessToken: appToken.accessToken,
  }).v1.accounts.create({
    username,
    email: `${username}@example.org`,
    password: "correct horse battery",
    agreement: true,
    locale: "en",
  });
  const rest = createRestAPIClient({ url, accessToken: token.accessToken });
  return { rest, token: token.accessToken, me: await rest.v1.accounts.verifyCredentials() };
};
const ann = await signUp("ann");
const bea = await signUp("bea");
await bea.rest.v1.accounts.$select(ann.me.id).follow();

// The reader's streams, from the URL the instance advertises.
const instance = await bea.rest.v2.instance.fetch();
const streaming = createStreamingAPIClient({
  streamingApiUrl: instance.configuration.urls.streaming,
  accessToken: bea.token,
  implementation: WebSocket,
});
const seen = { public: [], hashtag: [], user: [] };
const watch = async (name, subscription) => {
  for await (const e of subscription) {
    seen[name].push(e);
  }
};
watch("public", streaming.public.subscribe());
watch("hashtag", streaming.hashtag.subscribe({ tag: "flood" }));
watch("user", streaming.user.subscribe());

const until = async (what, test) => {
  for (let i = 0; i < 200; i++) {
    if (test()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  fail(`never saw ${what}: ${JSON.stringify(seen).slice(0, 2000)}`);
};
const updateOf = (list, id) =>
  list.find((e) => e.event === "update" && e.payload.id === id);

// masto.js opens its socket and subscribes in the background; once a notice posted now
// shows up, every subscription of this connection is live.
for (let i = 0; ; i++) {
  const probe = await ann.rest.v1.statuses.create({ status: `warming up ${i}` });
  await new Promise((r) => setTimeout(r, 250));
  if (updateOf(seen.public, probe.id)) break;
  if (i === 40) fail("the public stream never delivered anything");
}

const posted = await ann.rest.v1.statuses.create({
  status: "Water over the quay wall at Harbour Street #flood",
});
for (const name of ["public", "hashtag", "user"]) {
  await until(`the notice on ${name}`, () => updateOf(seen[name], posted.id));
  const e = updateOf(seen[name], posted.id);
  if (e.payload.account.username !== "ann" || !e.payload.content.includes("Harbour Street")) {
    fail(`${name} delivered a different notice: ${JSON.stringify(e.payload)}`);
  }
}

await ann.rest.v1.statuses.$select(posted.id).update({
  status: "Water over the quay wall at Harbour Street and Dock Road #flood",
});
await until("the correction on the hashtag stream", () =>
  seen.hashtag.some(
    (e) => e.event === "status.update" && e.payload.id === posted.id && e.payload.content.includes("Dock Road"),
  ),
);

await ann.rest.v1.statuses.$select(posted.id).remove();
await until("the deletion on the public stream", () =>
  seen.public.some((e) => e.event === "delete" && e.payload === posted.id),
);

streaming.close();
console.log("masto.js story: ok");
process.exit(0);
