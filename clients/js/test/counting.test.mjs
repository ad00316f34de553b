// countedChars counts as the server does: a text of exactly the instance's limit is
// accepted, one character more is refused, and the server's own count agrees.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { countedChars, comparePositions } from "../tidings.js";
import { tidings, signUp } from "../support/server.mjs";

let server;
let me;
let max;

before(async () => {
  server = await tidings();
  me = await signUp(server.base, "clara");
  max = (await me.get("/api/v2/instance")).configuration.statuses.max_characters;
});

after(() => server?.close());

const cases = {
  "a long link (23)": `A long link https://example.com/${"a".repeat(120)}?q=1&r=2#frag and #counting`,
  "links among spaces, tabs and line breaks": `line\n\nhttps://example.org/${"p".repeat(40)}  \t  http://example.net/${"q".repeat(30)}\r\nend`,
  "emoji, accents, a bare http://, an ideographic space": `Emoji 🎉🏳️‍🌈 café naïve, a bare http:// then https://x.org/${"b".repeat(40)}\u3000after`,
  "a link followed by U+FEFF (not a space to the server)": `BOM https://example.com/${"c".repeat(40)}\uFEFF${"d".repeat(30)} end`,
  "no-break and other Unicode spaces": `nbsp\u00a0https://example.com/${"e".repeat(40)}\u2003em\u202fnarrow\u205fmath`,
};

for (const [name, start] of Object.entries(cases)) {
  test(`countedChars as the server counts: ${name}`, async () => {
    const text = `${start} ${"x".repeat(max - countedChars(start) - 1)}`;
    assert.equal(countedChars(text), max);
    const ok = await me.tryPost(text);
    assert.equal(ok.status, 200, `exactly ${max} is accepted: ${ok.text}`);
    assert.equal(ok.json.content.includes("x".repeat(10)), true);

    const over = `${text}y`;
    assert.equal(countedChars(over), max + 1);
    const refused = await me.tryPost(over);
    assert.equal(refused.status, 422, `${max + 1} is refused`);
    assert.match(refused.json.error, new RegExp(`limit of ${max} exceeded \\(${max + 1}\\)`));
  });
}

test("comparePositions orders decimal strings of 64-bit integers", () => {
  assert.ok(comparePositions("9", "10") < 0);
  assert.ok(comparePositions("10", "9") > 0);
  assert.equal(comparePositions("42", "42"), 0);
  assert.ok(comparePositions("9223372036854775806", "9223372036854775807") < 0);
  assert.ok(comparePositions(100, "99") > 0);
});
