#!/usr/bin/env python3
"""Wiki mode's costs (issue 16's measurement): signing in through signed assertions, and
the periodic re-check of every linked account against a real MediaWiki.

Installs a fresh MediaWiki (tests/wiki/start.sh, Debian's 1.39 served by `php -S`), makes
N wiki users there in one PHP process, starts a release build of Tidings in wiki mode on
SQLite, signs each user in once through `/auth/wiki/start` and `/auth/wiki/assertion`
(assertions signed here with the shared secret, as the extension signs them; the first
sign-in makes and links the account), then lets the re-check run for a while and reads
`/metrics`.

    cargo build --release
    python3 loadtest/wiki_bench.py --users 500 --recheck 10 --watch 60
    python3 loadtest/wiki_bench.py --users 500 --recheck 10 --watch 12 --stale

Prints sign-in latency (p50/p99/max, one at a time), re-check rounds, accounts re-checked
per second, the mean round time, and the CPU time Tidings spent while only re-checking.
"""
import argparse, base64, hashlib, hmac, json, os, re, socket, subprocess, sys, tempfile
import time, urllib.parse, urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target", "release", "tidings")
SECRET = "a shared secret of the wiki and Tidings, for the benchmark"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *a, **k):
        return None


OPENER = urllib.request.build_opener(NoRedirect)


def get(url, cookie=None):
    req = urllib.request.Request(url, headers={"cookie": cookie} if cookie else {})
    try:
        res = OPENER.open(req, timeout=30)
    except urllib.error.HTTPError as e:
        res = e
    return res.status, res.headers, res.read()


def wait_for(url, what):
    for _ in range(300):
        try:
            if get(url)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    sys.exit(f"{what} did not start")


def b64(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def sign(claims):
    body = b64(json.dumps(claims).encode())
    mac = hmac.new(SECRET.encode(), body.encode(), hashlib.sha256).digest()
    return f"{body}.{b64(mac)}"


def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--users", type=int, default=500)
    ap.add_argument("--recheck", type=int, default=10, help="TIDINGS_MEDIAWIKI_RECHECK_SECS")
    ap.add_argument("--watch", type=int, default=60, help="seconds of re-checking to watch")
    ap.add_argument("--stale", action="store_true",
                    help="sign in claiming `autoconfirmed`, which the wiki denies: the first "
                         "re-check round then changes every account (a write each)")
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="tidings-wiki-bench-")
    wport, tport = free_port(), free_port()
    tidings = f"http://127.0.0.1:{tport}"
    wiki = subprocess.Popen(
        ["bash", os.path.join(ROOT, "tests/wiki/start.sh"), os.path.join(work, "wiki"),
         str(wport), tidings, SECRET],
        stdout=open(os.path.join(work, "wiki.log"), "w"), stderr=subprocess.STDOUT)
    node = None
    try:
        wurl = f"http://127.0.0.1:{wport}"
        wait_for(f"{wurl}/api.php?action=query&meta=siteinfo&format=json", "the wiki")
        php = ("for ($i = 0; $i < %d; $i++) { User::createNew('Bench user ' . $i); }" % a.users)
        subprocess.run(["php", "/usr/share/mediawiki/maintenance/eval.php", "--conf",
                        os.path.join(work, "wiki", "LocalSettings.php")],
                       input=php.encode(), check=True, capture_output=True)
        users, cont = [], {}
        while True:
            q = {"action": "query", "list": "allusers", "aulimit": "max", "format": "json",
                 "auprefix": "Bench user", **cont}
            v = json.loads(get(f"{wurl}/api.php?{urllib.parse.urlencode(q)}")[2])
            users += [(u["userid"], u["name"]) for u in v["query"]["allusers"]]
            if "continue" not in v:
                break
            cont = v["continue"]
        print(f"wiki: {len(users)} users")
        env = dict(os.environ, DATABASE_URL=f"sqlite://{work}/tidings.db?mode=rwc",
                   TIDINGS_LISTEN=f"127.0.0.1:{tport}", TIDINGS_MEDIAWIKI_URL=wurl,
                   TIDINGS_MEDIAWIKI_SHARED_SECRET=SECRET,
                   TIDINGS_MEDIAWIKI_RECHECK_SECS=str(a.recheck),
                   TIDINGS_API_REQUESTS_PER_IP="0", TIDINGS_API_REQUESTS_PER_TOKEN="0",
                   RUST_LOG="warn")
        node = subprocess.Popen([BIN], env=env, cwd=work,
                                stdout=open(os.path.join(work, "tidings.log"), "w"),
                                stderr=subprocess.STDOUT)
        wait_for(f"{tidings}/health", "Tidings")
        lat = []
        for uid, name in users:
            t0 = time.perf_counter()
            status, h, _ = get(f"{tidings}/auth/wiki/start?return_to=/")
            cookie = h["set-cookie"].split(";")[0]
            nonce = re.search(r"nonce=([^&]+)", h["location"]).group(1)
            now = int(time.time())
            groups = ["*", "user", "autoconfirmed"] if a.stale else ["*", "user"]
            token = sign({"iss": wurl, "sub": uid, "name": name, "groups": groups,
                          "blocked": False, "editcount": 0, "iat": now, "exp": now + 60,
                          "nonce": nonce})
            status, h, body = get(f"{tidings}/auth/wiki/assertion?assertion={token}", cookie)
            assert status == 303, (status, body[:200])
            lat.append((time.perf_counter() - t0) * 1000)
        print(f"sign-in (start + assertion, account made and linked), {len(lat)} one at a time: "
              f"p50 {pct(lat, 0.5):.2f} ms, p99 {pct(lat, 0.99):.2f} ms, max {max(lat):.2f} ms")
        c0, t0 = cpu_seconds(node.pid), time.time()
        time.sleep(a.watch)
        c1, t1 = cpu_seconds(node.pid), time.time()
        m = get(f"{tidings}/metrics")[2].decode()
        val = lambda k: float(re.search(rf"^{k} (\S+)$", m, re.M).group(1))
        n, rounds = val("tidings_wiki_rechecked_total"), val("tidings_wiki_recheck_seconds_count")
        total = val("tidings_wiki_recheck_seconds_sum")
        fails = val("tidings_wiki_recheck_failures_total")
        print(f"re-check every {a.recheck} s, watched {t1 - t0:.0f} s: {n:.0f} accounts in "
              f"{rounds:.0f} rounds ({fails:.0f} failed), mean round {total / max(rounds, 1):.3f} s "
              f"({n / max(total, 1e-9):.0f} accounts/s while checking); Tidings CPU "
              f"{(c1 - c0) * 1000:.0f} ms in the window "
              f"({(c1 - c0) * 1e6 / max(n, 1):.0f} µs per account re-checked)")
    finally:
        if node:
            node.terminate()
            node.wait()
        wiki.terminate()
        wiki.wait()


if __name__ == "__main__":
    main()
