#!/usr/bin/env python3
# Usage: python3 loadtest/stalled_readers.py target/release/tidings [TIDINGS_VAR=value ...]
# 200 SSE readers that stop reading while notices flow: the kernel's TCP memory (pages,
# /proc/net/sockstat) and how many of the readers the server still holds.
import json, os, socket, subprocess, sys, tempfile, time, urllib.request
binary, env_extra = sys.argv[1], dict(kv.split("=", 1) for kv in sys.argv[2:])
port = 8183
d = tempfile.mkdtemp()
env = dict(os.environ, TIDINGS_MAX_STREAMS_PER_IP="100000", TIDINGS_MAX_CONNECTIONS_PER_IP="100000", **env_extra)
srv = subprocess.Popen([binary, "--listen", f"127.0.0.1:{port}"], cwd=d, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
base = f"http://127.0.0.1:{port}"
for _ in range(100):
    try:
        urllib.request.urlopen(base + "/health/live"); break
    except Exception:
        time.sleep(0.1)
def call(path, data=None, token=None, form=False):
    body = None
    headers = {}
    if data is not None:
        if form:
            body = urllib.parse.urlencode(data).encode()
        else:
            body = json.dumps(data).encode(); headers["Content-Type"] = "application/json"
    if token: headers["Authorization"] = "Bearer " + token
    return json.load(urllib.request.urlopen(urllib.request.Request(base + path, body, headers)))
import urllib.parse
app = call("/api/v1/apps", {"client_name": "m", "redirect_uris": "urn:ietf:wg:oauth:2.0:oob", "scopes": "read write"})
tok = call("/oauth/token", {"grant_type": "client_credentials", "client_id": app["client_id"], "client_secret": app["client_secret"], "scope": "read write"}, form=True)["access_token"]
user = call("/api/v1/accounts", {"username": "m", "password": "a long password", "agreement": True}, token=tok)["access_token"]
def tcp_pages():
    for line in open("/proc/net/sockstat"):
        if line.startswith("TCP:"):
            f = line.split(); return int(f[f.index("mem") + 1])
readers = []
for i in range(200):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", port)); s.sendall(b"GET /api/v1/streaming/public HTTP/1.1\r\nHost: x\r\n\r\n")
    readers.append(s)
time.sleep(0.5)
start = tcp_pages(); peak = start
text = "x" * 480
for i in range(3000):
    call("/api/v1/statuses", {"status": f"{i} {text}"}, token=user)
    if i % 50 == 0:
        peak = max(peak, tcp_pages())
metrics = urllib.request.urlopen(base + "/metrics").read().decode()
subs = [l for l in metrics.splitlines() if l.startswith("tidings_subscriptions")]
print(json.dumps({"env": env_extra, "tcp_mem_pages_start": start, "tcp_mem_peak_MiB": round((peak - start) * 4096 / 2**20, 1), "subscriptions_left": subs}))
srv.terminate()
