#!/usr/bin/env python3
# Usage: python3 loadtest/password_guessing.py target/release/tidings
# 24 clients guessing passwords at once for 10 s: the server's RSS, and how long a wrong
# password takes for a known and for an unknown account.
import json, os, subprocess, sys, tempfile, threading, time, urllib.request, urllib.parse
binary = sys.argv[1]
port = 8184; d = tempfile.mkdtemp(); base = f"http://127.0.0.1:{port}"
env = dict(os.environ, TIDINGS_SIGN_IN_ATTEMPTS_PER_IP="1000000", TIDINGS_SIGN_IN_ATTEMPTS_PER_ACCOUNT="1000000")
srv = subprocess.Popen([binary, "--listen", f"127.0.0.1:{port}"], cwd=d, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
for _ in range(100):
    try: urllib.request.urlopen(base + "/api/v1/instance"); break
    except Exception: time.sleep(0.1)
def post(path, data, token=None, form=False):
    body = urllib.parse.urlencode(data).encode() if form else json.dumps(data).encode()
    h = {} if form else {"Content-Type": "application/json"}
    if token: h["Authorization"] = "Bearer " + token
    try:
        r = urllib.request.urlopen(urllib.request.Request(base + path, body, h)); return r.status, json.load(r)
    except urllib.error.HTTPError as e:
        return e.code, None
_, app = post("/api/v1/apps", {"client_name": "m", "redirect_uris": "urn:ietf:wg:oauth:2.0:oob", "scopes": "read write"})
_, t = post("/oauth/token", {"grant_type": "client_credentials", "client_id": app["client_id"], "client_secret": app["client_secret"], "scope": "read write"}, form=True)
post("/api/v1/accounts", {"username": "known", "email": "k@example.org", "password": "a long password", "agreement": True}, token=t["access_token"])
def rss():
    for l in open(f"/proc/{srv.pid}/status"):
        if l.startswith("VmRSS"): return int(l.split()[1]) // 1024
def guess(user):
    return post("/oauth/token", {"grant_type": "password", "client_id": app["client_id"], "client_secret": app["client_secret"], "username": user, "password": "wrong guess", "scope": "read"}, form=True)[0]
before = rss()
codes = {}
stop = time.time() + 10
def worker():
    while time.time() < stop:
        c = guess("known"); codes[c] = codes.get(c, 0) + 1
ts = [threading.Thread(target=worker) for _ in range(24)]
[t.start() for t in ts]; peak = 0
while time.time() < stop:
    peak = max(peak, rss()); time.sleep(0.2)
[t.join() for t in ts]
time.sleep(2); after = rss()
def timed(user, n=60):
    t0 = time.time()
    for _ in range(n): guess(user)
    return round((time.time() - t0) / n * 1000, 1)
print(json.dumps({"rss_before_MiB": before, "rss_peak_MiB": peak, "rss_2s_after_MiB": after, "answers": codes, "ms_unknown": timed("nobody"), "ms_known": timed("known"), "ms_unknown2": timed("nobody")}))
srv.terminate()
