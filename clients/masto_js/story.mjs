// masto.js, unmodified, against a Tidings node: a reporter posts, corrects and deletes a
// notice; a reader who follows her watches the public, hashtag and home streams over one
// multiplexed WebSocket. Then a thread with a followers-only reply, search, notifications
// arriving live on the reporter's `user:notification` and `user` streams and listed,
// filtered, dismissed and cleared, followers paged by Link, bookmarks, pins, favourites,
// markers, instance counts and trends; then a photo with its description, a poll bea
// answers, bea's list of ann, ann's profile and a notice scheduled and withdrawn. Run by
// tests/clients.rs: `node story.mjs BASE_URL`.
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
// The reporter's own connection: her notifications, on their own stream and on \`user\`.
const annStreaming = createStreamingAPIClient({
  streamingApiUrl: instance.configuration.urls.streaming,
  accessToken: ann.token,
  implementation: WebSocket,
});
const seen = { public: [], hashtag: [], user: [], annPublic: [], annNotification: [], annUser: [] };
const watch = async (name, subscription) => {
  for await (const e of subscription) {
    seen[name].push(e);
  }
};
watch("public", streaming.public.subscribe());
watch("hashtag", streaming.hashtag.subscribe({ tag: "flood" }));
watch("user", streaming.user.subscribe());
watch("annPublic", annStreaming.public.subscribe());
watch("annNotification", annStreaming.user.notification.subscribe());
watch("annUser", annStreaming.user.subscribe());

const until = async (what, test) => {
  for (let i = 0; i < 200; i++) {
    if (test()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  fail(`never saw ${what}: ${JSON.stringify(seen).slice(0, 2000)}`);
};
const updateOf = (list, id) =>
  list.find((e) => e.event === "update" && e.payload.id === id);

// masto.js opens its sockets and subscribes in the background; once a notice posted now
// shows up on a connection, every subscription of that connection is live.
for (let i = 0; ; i++) {
  const probe = await ann.rest.v1.statuses.create({ status: `warming up ${i}` });
  await new Promise((r) => setTimeout(r, 250));
  if (updateOf(seen.public, probe.id) && updateOf(seen.annPublic, probe.id)) break;
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

const same = (got, want, what) => {
  if (JSON.stringify(got) !== JSON.stringify(want)) {
    fail(`${what}: got ${JSON.stringify(got)}, expected ${JSON.stringify(want)}`);
  }
};
const ids = (list) => list.map((x) => x.id);
const names = (accounts) => accounts.map((a) => a.username).sort();
const all = async (paginator) => {
  const out = [];
  for await (const page of paginator) out.push(...page);
  return out;
};
const refused = async (request, status, what) => {
  try {
    await request;
  } catch (e) {
    if (e.statusCode === status) return;
    fail(`${what}: expected ${status}, got ${e.statusCode} ${e.message}`);
  }
  fail(`${what}: expected ${status}, got a success`);
};
const notificationOn = (name, type, test) =>
  seen[name].find(
    (e) => e.event === "notification" && e.payload.type === type && test(e.payload),
  );

// A thread: context reads it in order from any notice of it; the reporter's
// followers-only reply shows to bea, who follows her, and to nobody else, in the thread,
// by its id or in search.
const cara = await signUp("cara");
const root = await ann.rest.v1.statuses.create({
  status: "Ferry to the islands cancelled for the day #ferry",
});
const answer = await bea.rest.v1.statuses.create({
  status: "@ann is the night boat running? #ferry",
  inReplyToId: root.id,
});
const followUp = await ann.rest.v1.statuses.create({
  status: "@bea no word yet, asking the harbour master",
  inReplyToId: answer.id,
});
const offRecord = await ann.rest.v1.statuses.create({
  status: "The harbour master's name stays off the record",
  inReplyToId: followUp.id,
  visibility: "private",
});
const middle = await ann.rest.v1.statuses.$select(answer.id).context.fetch();
same(ids(middle.ancestors), [root.id], "ancestors of the answer");
same(ids(middle.descendants), [followUp.id, offRecord.id], "descendants of the answer");
const forFollower = await bea.rest.v1.statuses.$select(root.id).context.fetch();
same(
  ids(forFollower.descendants),
  [answer.id, followUp.id, offRecord.id],
  "the thread for a follower",
);
const forStranger = await cara.rest.v1.statuses.$select(root.id).context.fetch();
same(ids(forStranger.descendants), [answer.id, followUp.id], "the thread for a stranger");
const hidden = cara.rest.v1.statuses.$select(offRecord.id);
await refused(hidden.fetch(), 404, "a stranger reading the private reply");
await refused(hidden.context.fetch(), 404, "a stranger reading its thread");
const statuses = async (who, q) =>
  ids((await who.rest.v2.search.list({ q, type: "statuses" })).statuses);
same(await statuses(cara, "record"), [], "a stranger searching a followers-only notice");
same(await statuses(bea, "record"), [offRecord.id], "a follower searching it");

// Notifications arrive live as they happen, on user:notification and on user; bea, who
// boosted the notice, hears of its correction.
await bea.rest.v1.statuses.$select(root.id).favourite();
await bea.rest.v1.statuses.$select(root.id).reblog();
await cara.rest.v1.accounts.$select(ann.me.id).follow();
await ann.rest.v1.statuses.$select(root.id).update({
  status: "Ferry to the islands cancelled; the night boat runs #ferry",
});
const live = [
  ["mention", (n) => n.status.id === answer.id],
  ["favourite", (n) => n.status.id === root.id],
  ["reblog", (n) => n.status.id === root.id],
  ["follow", (n) => n.account.username === "cara"],
];
for (const name of ["annNotification", "annUser"]) {
  for (const [type, test] of live) {
    await until(`the ${type} notification on ${name}`, () => notificationOn(name, type, test));
  }
}
await until("the update notification on bea's user stream", () =>
  notificationOn(
    "user",
    "update",
    (n) => n.status.id === root.id && n.status.content.includes("night boat"),
  ),
);

const listed = await ann.rest.v1.notifications.list();
same(
  listed.map((n) => [n.type, n.account.username]),
  [
    ["follow", "cara"],
    ["reblog", "bea"],
    ["favourite", "bea"],
    ["mention", "bea"],
    ["follow", "bea"],
  ],
  "the reporter's notifications",
);
same(
  ids(listed.slice(0, 4)).sort(),
  live.map(([type, test]) => notificationOn("annNotification", type, test).payload.id).sort(),
  "notifications listed as they were streamed",
);
const [, reblogged, favourited] = listed;
same(
  ids(await ann.rest.v1.notifications.list({ types: ["favourite", "reblog"] })),
  [reblogged.id, favourited.id],
  "types",
);
const excluded = await ann.rest.v1.notifications.list({ excludeTypes: ["follow", "mention"] });
same(excluded.map((n) => n.type), ["reblog", "favourite"], "excludeTypes");
const one = ann.rest.v1.notifications.$select(favourited.id);
same((await one.fetch()).type, "favourite", "one notification");
await one.dismiss();
await refused(one.fetch(), 404, "a dismissed notification");
same((await ann.rest.v1.notifications.list()).length, 4, "notifications after dismissing one");

// Search: a notice by a word of its correction, none that was deleted; accounts and tags
// by the start of their names.
if (!(await statuses(cara, "night")).includes(root.id)) fail("search missed the correction");
same(await statuses(cara, "quay"), [], "searching a deleted notice");
const accounts = await cara.rest.v2.search.list({ q: "an", type: "accounts" });
same(names(accounts.accounts), ["ann"], "accounts");
same(names(await cara.rest.v1.accounts.search.list({ q: "be" })), ["bea"], "account search");
same(
  (await cara.rest.v2.search.list({ q: "#fer", type: "hashtags" })).hashtags.map((t) => t.name),
  ["ferry"],
  "hashtags",
);

// Followers one a page, the next found by the Link header; following.
const pages = [];
for await (const page of ann.rest.v1.accounts.$select(ann.me.id).followers.list({ limit: 1 })) {
  if (page.length > 1) fail(`a page of ${page.length} followers for limit 1`);
  pages.push(page);
}
same(names(pages.flat()), ["bea", "cara"], "followers");
const following = await all(bea.rest.v1.accounts.$select(bea.me.id).following.list());
same(names(following), ["ann"], "following");

// Bookmarks, pins, favourites.
if (!(await bea.rest.v1.statuses.$select(root.id).bookmark()).bookmarked) fail("bookmark");
same(ids(await bea.rest.v1.bookmarks.list()), [root.id], "bookmarks");
same(ids(await ann.rest.v1.bookmarks.list()), [], "someone else's bookmarks");
await bea.rest.v1.statuses.$select(root.id).unbookmark();
same(ids(await bea.rest.v1.bookmarks.list()), [], "bookmarks after unbookmarking");
for (const s of [root, followUp]) {
  if (!(await ann.rest.v1.statuses.$select(s.id).pin()).pinned) fail(`pin ${s.id}`);
}
await refused(ann.rest.v1.statuses.$select(answer.id).pin(), 422, "pinning another's notice");
const pinned = () => cara.rest.v1.accounts.$select(ann.me.id).statuses.list({ pinned: true });
same(ids(await pinned()).sort(), [root.id, followUp.id].sort(), "pinned notices");
await ann.rest.v1.statuses.$select(followUp.id).unpin();
same(ids(await pinned()), [root.id], "pinned notices after unpinning");
same(ids(await bea.rest.v1.favourites.list()), [root.id], "favourites");
const rootFor = ann.rest.v1.statuses.$select(root.id);
same(names(await rootFor.favouritedBy.list()), ["bea"], "favourited by");
same(names(await rootFor.rebloggedBy.list()), ["bea"], "reblogged by");

// Markers.
const set = await ann.rest.v1.markers.create({
  home: { lastReadId: root.id },
  notifications: { lastReadId: listed[0].id },
});
const markers = await ann.rest.v1.markers.fetch({ timeline: ["home", "notifications"] });
same(markers.home.lastReadId, root.id, "home marker");
same(markers.notifications.lastReadId, listed[0].id, "notifications marker");
same(markers.home.version, set.home.version, "marker version");

// Counts and trends.
const v1 = await cara.rest.v1.instance.fetch();
same(v1.stats.userCount, 3, "user count");
let notices = 0;
for (const who of [ann, bea, cara]) {
  notices += (await cara.rest.v1.accounts.$select(who.me.id).fetch()).statusesCount;
}
same(v1.stats.statusCount, notices, "status count");
// Mastodon counts sign-ins, Tidings notices: at least ann and bea, at most all three.
const active = (await cara.rest.v2.instance.fetch()).usage.users.activeMonth;
if (!(active >= 2 && active <= 3)) fail(`${active} active this month`);
const trends = await cara.rest.v1.trends.tags.list();
same(trends[0]?.name, "ferry", "the trending tag");
// The root and bea's answer, over one day or two.
same(trends[0].history.reduce((n, day) => n + Number(day.uses), 0), 2, "its uses");

// A photo (a 4×3 PNG) with its description: cara reads an image of that size, and its
// file answers.
const pixels = Buffer.from(
  "iVBORw0KGgoAAAANSUhEUgAAAAQAAAADCAIAAAA7ljmRAAAAD0lEQVR4nGNgYPiPhHBxAN1JC/U39qNPAAAAAElFTkSuQmCC",
  "base64",
);
const media = await ann.rest.v2.media.create({
  file: new Blob([pixels], { type: "image/png" }),
  description: "Passengers waiting at the ferry terminal",
});
same([typeof media.id, media.type], ["string", "image"], "the uploaded media");
const photo = await ann.rest.v1.statuses.create({
  status: "The terminal this morning",
  mediaIds: [media.id],
});
const [attached] = (await cara.rest.v1.statuses.$select(photo.id).fetch()).mediaAttachments;
same(
  [attached?.id, attached?.type, attached?.description],
  [media.id, "image", "Passengers waiting at the ferry terminal"],
  "the attachment",
);
same([attached.meta?.original?.width, attached.meta?.original?.height], [4, 3], "its size");
const file = await fetch(attached.url);
if (file.status !== 200 || (await file.arrayBuffer()).byteLength === 0) {
  fail(`the photo's file answered ${file.status}`);
}

// A poll: bea's vote counts once, and she sees her choice.
const asked = await ann.rest.v1.statuses.create({
  status: "Should the night boat run on weekdays too?",
  poll: { options: ["Yes", "No"], expiresIn: 600 },
});
same(asked.poll.options.map((o) => o.title), ["Yes", "No"], "poll options");
const voted = await bea.rest.v1.polls.$select(asked.poll.id).votes.create({ choices: [0] });
same([voted.voted, voted.ownVotes], [true, [0]], "bea's vote");
const counted = await ann.rest.v1.polls.$select(asked.poll.id).fetch();
same(counted.votesCount, 1, "votes");
same(counted.options.map((o) => o.votesCount), [1, 0], "votes per option");
await refused(
  bea.rest.v1.polls.$select(asked.poll.id).votes.create({ choices: [1] }),
  422,
  "voting twice",
);

// bea lists ann, whom she follows: ann's new notice is on the list, cara's is not.
const desk = await bea.rest.v1.lists.create({ title: "Ferry desk" });
await bea.rest.v1.lists.$select(desk.id).accounts.create({ accountIds: [ann.me.id] });
same(names(await bea.rest.v1.lists.$select(desk.id).accounts.list()), ["ann"], "list members");
const hers = await ann.rest.v1.statuses.create({ status: "Night boat confirmed for 22:10" });
const other = await cara.rest.v1.statuses.create({ status: "Long queue for coffee" });
const onList = ids(await bea.rest.v1.timelines.list.$select(desk.id).list());
if (!onList.includes(hers.id) || onList.includes(other.id)) {
  fail(`the list timeline: ${JSON.stringify(onList)}`);
}

// ann's profile: a name, a bio and two fields, seen by her and by cara.
await ann.rest.v1.accounts.updateCredentials({
  displayName: "Ann Ferris",
  note: "Ferries and islands",
  fieldsAttributes: [
    { name: "Desk", value: "Islands" },
    { name: "Boat", value: "Night service" },
  ],
});
const profile = await ann.rest.v1.accounts.verifyCredentials();
same(profile.displayName, "Ann Ferris", "display name");
same(profile.source.note, "Ferries and islands", "note as written");
const written = [
  ["Desk", "Islands"],
  ["Boat", "Night service"],
];
same(profile.source.fields.map((f) => [f.name, f.value]), written, "fields as written");
// Rendered values are HTML; Mastodon leaves plain text unwrapped, Tidings wraps it in <p>.
same(profile.fields.map((f) => f.name), ["Desk", "Boat"], "field names");
if (!profile.fields.every((f, i) => f.value.includes(written[i][1]))) {
  fail(`rendered fields: ${JSON.stringify(profile.fields)}`);
}
const seenByCara = await cara.rest.v1.accounts.$select(ann.me.id).fetch();
same(seenByCara.displayName, "Ann Ferris", "the name cara sees");

// A notice scheduled ten minutes ahead waits, listed, until it is withdrawn.
const at = new Date(Date.now() + 10 * 60_000);
const later = await ann.rest.v1.statuses.create({
  status: "Timetable for the winter season",
  scheduledAt: at.toISOString(),
});
same(later.params?.text, "Timetable for the winter season", "the scheduled notice");
if (Math.abs(new Date(later.scheduledAt) - at) > 1000) {
  fail(`scheduled for ${later.scheduledAt}, asked ${at.toISOString()}`);
}
same(ids(await ann.rest.v1.scheduledStatuses.list()), [later.id], "scheduled notices");
await ann.rest.v1.scheduledStatuses.$select(later.id).remove();
same(ids(await ann.rest.v1.scheduledStatuses.list()), [], "scheduled notices after withdrawing");

await ann.rest.v1.notifications.clear();
same(ids(await ann.rest.v1.notifications.list()), [], "notifications after clearing");

streaming.close();
annStreaming.close();
console.log("masto.js story: ok");
process.exit(0);
