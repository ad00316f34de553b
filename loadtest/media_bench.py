#!/usr/bin/env python3
"""Media upload throughput and server memory for ~10 MB photos (issue 12's benchmark).

Makes camera-sized photos (4000x3000, as a phone takes them) that are noisy enough not to
compress away -- a JPEG and a PNG, each tuned to about --mb megabytes -- and, for each
format, starts a release build of Tidings on the embedded default (SQLite, a fresh temp
dir, media/ beside the database), signs one account in and uploads them through
`POST /api/v2/media` (multipart `file`): one at a time, then 2 and 4 at a time. Every
upload is decoded, turned upright, scaled to 3840 px at most, re-encoded, previewed and
blurhashed on the server (see src/media.rs).

Per phase it prints uploads/s, MB/s (10^6 bytes of upload), p50/p99 latency, the
server's CPU seconds per upload (user + system, from /proc/<pid>/stat) and its memory: VmRSS sampled every 10 ms and VmHWM (its peak, reset before each phase
through /proc/<pid>/clear_refs when the kernel allows), against the idle RSS before the
first upload (so at the second and third phase, it includes what the allocator kept from
the one before). Then it posts a notice with four of the uploads and checks that they
come back attached and are served.

    python3 -m venv /tmp/mb-venv && /tmp/mb-venv/bin/pip install pillow
    /tmp/mb-venv/bin/python loadtest/media_bench.py --uploads 24

Needs `cargo build --release` first (it uses target/release/tidings, or
$CARGO_TARGET_DIR/release/tidings, or --bin) and Pillow, only to make the photos.
"""
import argparse, io, json, os, random, shutil, tempfile, threading, time
import urllib.parse, urllib.request
from concurrent.futures import ThreadPoolExecutor

import importlib.util
HERE = os.path.dirname(os.path.abspath(__file__))


def load(name):
    spec = importlib.util.spec_from_file_location(name, os.path.join(HERE, name + ".py"))
    m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)
    return m


sb, fb = load("search_bench"), load("fanout_bench")
MB = 1_000_000


# --- the photos -------------------------------------------------------------------------

def scene(w, h, sigma, seed):
    """A photograph's statistics, roughly: light that varies smoothly, detail at every
    scale (larger features stronger), colour mostly shared between channels, and sensor
    noise of `sigma` on top, which is what the bisection turns to reach a file size."""
    from PIL import Image, ImageChops
    rnd = random.Random(seed)

    def field(cells, amp):
        small = Image.effect_noise((max(2, w // cells), max(2, h // cells)), amp)
        return small.resize((w, h), Image.Resampling.BICUBIC)

    side = int((w * w + h * h) ** 0.5) + 2
    light = Image.linear_gradient("L").resize((side, side)).rotate(rnd.uniform(0, 360))
    light = light.crop(((side - w) // 2, (side - h) // 2, (side - w) // 2 + w, (side - h) // 2 + h))
    for cells, amp in [(400, 40), (100, 30), (25, 20), (6, 12)]:
        light = ImageChops.add(light, field(cells, amp), scale=1.0, offset=-128)
    channels = []
    for _ in range(3):
        c = ImageChops.add(light, field(300, 25), scale=1.0, offset=-128)
        noise = Image.effect_noise((w, h), sigma)
        channels.append(ImageChops.add(c, noise, scale=1.0, offset=-128))
    return Image.merge("RGB", channels)


def encode(img, fmt):
    out = io.BytesIO()
    if fmt == "jpeg":
        img.save(out, "JPEG", quality=95, subsampling=0)
    else:
        img.save(out, "PNG", compress_level=6)
    return out.getvalue()


def photos(fmt, target, count):
    """`count` different photos of about `target` bytes. A camera's 4000x3000 with the
    sensor noise found by bisection; when even the least noise makes the file too large (a
    photo as PNG), a smaller picture. Sizes are probed on a sixteenth of the area: the
    features have a fixed size in pixels, so a file's size goes with its area."""
    w, h = 4000, 3000
    probe = lambda sigma: len(encode(scene(w // 4, h // 4, sigma, 1), fmt)) * 16
    lo, hi, least = 1.0, 120.0, probe(1.0)
    if least > target:
        k = (target / least) ** 0.5
        w, h, sigma = int(w * k) // 8 * 8, int(h * k) // 8 * 8, 1.0
    else:
        for _ in range(12):
            sigma = (lo + hi) / 2
            size = probe(sigma)
            if abs(size - target) < 0.02 * target:
                break
            lo, hi = (sigma, hi) if size < target else (lo, sigma)
    return [encode(scene(w, h, sigma, 100 + i), fmt) for i in range(count)], round(sigma, 2), (w, h)


# --- the server's memory ----------------------------------------------------------------

def status_kib(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def cpu_s(pid):
    """The server's (user, system) CPU seconds so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


def reset_peak(pid):
    """Make VmHWM start again from the current RSS (Linux 4.0+, needs the right to)."""
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


class Sampler(threading.Thread):
    """VmRSS every 10 ms; the highest seen since the last `take()`."""

    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid, self.peak, self.stop = pid, 0, threading.Event()

    def run(self):
        while not self.stop.wait(0.01):
            try:
                self.peak = max(self.peak, status_kib(self.pid, "VmRSS"))
            except OSError:
                return

    def take(self):
        p, self.peak = self.peak, 0
        return p


# --- the uploads ------------------------------------------------------------------------

def upload(base, token, data, fmt):
    boundary = "tidings-bench-" + os.urandom(8).hex()
    kind = "image/jpeg" if fmt == "jpeg" else "image/png"
    body = b"".join([
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
        f"filename=\"scene.{'jpg' if fmt == 'jpeg' else 'png'}\"\r\n"
        f"Content-Type: {kind}\r\n\r\n".encode(),
        data,
        f"\r\n--{boundary}--\r\n".encode(),
    ])
    req = urllib.request.Request(base + "/api/v2/media", method="POST", data=body, headers={
        "Authorization": "Bearer " + token,
        "Content-Type": f"multipart/form-data; boundary={boundary}"})
    s = time.perf_counter()
    media = json.loads(urllib.request.urlopen(req, timeout=300).read())
    return (time.perf_counter() - s) * 1000, media


def phase(base, token, pid, sampler, files, fmt, n, parallel):
    can_reset = reset_peak(pid)
    sampler.take()
    jobs = [files[i % len(files)] for i in range(n)]
    cpu0 = cpu_s(pid)
    t0 = time.perf_counter()
    with ThreadPoolExecutor(parallel) as ex:
        done = list(ex.map(lambda d: upload(base, token, d, fmt), jobs))
    wall = time.perf_counter() - t0
    user, system = (b - a for a, b in zip(cpu0, cpu_s(pid)))
    time.sleep(0.05)
    lat = [ms for ms, _ in done]
    sent = sum(len(d) for d in jobs)
    out = {"format": fmt, "uploads": n, "parallel": parallel,
           "uploads_per_s": round(n / wall, 2), "MB_per_s": round(sent / MB / wall, 1),
           "p50_ms": round(sb.percentile(lat, 50)), "p99_ms": round(sb.percentile(lat, 99)),
           "server_cpu_s_per_upload": round((user + system) / n, 2),
           "of_it_kernel_s": round(system / n, 2),
           "peak_rss_sampled_MiB": round(sampler.take() / 1024),
           "rss_after_MiB": round(status_kib(pid, "VmRSS") / 1024)}
    if can_reset:
        out["peak_rss_hwm_MiB"] = round(status_kib(pid, "VmHWM") / 1024)
    return out, [m for _, m in done]


def sanity(base, token, media):
    """A notice goes out with four of the uploads, and their files are served."""
    ids = [m["id"] for m in media[:4]]
    form = [("status", "from the scene")] + [("media_ids[]", i) for i in ids]
    req = urllib.request.Request(base + "/api/v1/statuses", method="POST",
                                 data=urllib.parse.urlencode(form).encode(),
                                 headers={"Authorization": "Bearer " + token})
    status = json.loads(urllib.request.urlopen(req, timeout=60).read())
    got = [a["id"] for a in status["media_attachments"]]
    assert sorted(got) == sorted(ids), f"posted with {ids}, attached {got}"
    path = urllib.parse.urlparse(status["media_attachments"][0]["url"]).path
    res = urllib.request.urlopen(base + path, timeout=60)
    assert res.status == 200 and res.headers["Content-Type"].startswith("image/"), res.headers
    # Mastodon keeps the order of media_ids; whether we do is reported, not asserted.
    return {"notice_id": status["id"], "attached": len(got), "order_kept": got == ids,
            "kept": status["media_attachments"][0]["meta"]["original"]}


def one_server(files, fmt, o, rows):
    """A fresh server for one format: its idle RSS, a phase per level of parallelism
    (appended to `rows`), the notice with four uploads, and what it kept on disk."""
    with open("/proc/loadavg") as f:
        load_at_start = " ".join(f.read().split()[:3])
    work = tempfile.mkdtemp(prefix="tidings-media-")
    url, _, _ = sb.fresh_database("sqlite", None, work, "media")
    sb.create_users(url, work, ["bench"], fb.PASSWORD)
    proc, base = sb.start(url, work)
    try:
        tok = fb.token(base, "bench")
        time.sleep(1)
        idle = status_kib(proc.pid, "VmRSS") / 1024
        sampler = Sampler(proc.pid)
        sampler.start()
        media = []
        for p in (int(x) for x in o.parallel.split(",")):
            row, ms = phase(base, tok, proc.pid, sampler, files, fmt, o.uploads, p)
            row["peak_MiB"] = row.get("peak_rss_hwm_MiB", row["peak_rss_sampled_MiB"])
            row["above_idle_per_upload_in_flight_MiB"] = round((row["peak_MiB"] - idle) / p)
            rows.append(row)
            media += ms
            print(json.dumps(row), flush=True)
        sampler.stop.set()
        kept = sum(e.stat().st_size for e in os.scandir(os.path.join(work, "media")))
        return {"idle_rss_MiB": round(idle, 1), "loadavg_at_start": load_at_start, "sanity": sanity(base, tok, media),
                "kept_per_upload_MB_with_preview": round(kept / len(media) / MB, 2)}
    finally:
        proc.terminate(); proc.wait()
        shutil.rmtree(work, ignore_errors=True)


def main():
    default_bin = os.path.join(os.environ["CARGO_TARGET_DIR"], "release", "tidings") \
        if os.environ.get("CARGO_TARGET_DIR") else sb.BIN
    a = argparse.ArgumentParser()
    a.add_argument("--uploads", type=int, default=24, help="per phase")
    a.add_argument("--parallel", default="1,2,4")
    a.add_argument("--formats", default="jpeg,png")
    a.add_argument("--mb", type=float, default=10.0, help="size of each photo, 10^6 bytes")
    a.add_argument("--bin", default=default_bin)
    o = a.parse_args()
    sb.BIN = o.bin
    t0 = time.time()
    made = {f: photos(f, o.mb * MB, 3) for f in o.formats.split(",")}
    out = {"made_in_s": round(time.time() - t0, 1),
           "photos": {f: {"sizes_MB": [round(len(d) / MB, 2) for d in files], "noise_sigma": s,
                          "pixels": f"{w}x{h}"} for f, (files, s, (w, h)) in made.items()}}
    out["phases"], out["servers"] = [], {}
    for fmt, (files, _, _) in made.items():
        out["servers"][fmt] = one_server(files, fmt, o, out["phases"])
    out["peak_rss_whole_run_MiB"] = max(r["peak_MiB"] for r in out["phases"])
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
