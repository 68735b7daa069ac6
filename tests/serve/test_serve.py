#!/usr/bin/env python3
"""End-to-end tests of s2s-serve on loopback (tests/serve/meson.build).

The server runs as a child process on 127.0.0.1 with a port the kernel
picks (--listen 127.0.0.1:0; it prints the URL). Clips are encoded here with
gst-launch-1.0 (x264enc, mp4mux, wavenc from Debian's plugin packages). The
client is the replaced service's example client: Python `websockets`, the
file as one binary message, progress frames, then {"done", "metrics"}; its
metrics must be exactly what `s2s-analyze --json` writes for the same file
and options (the same json_number text, compared as parsed doubles).

Exit 77 (meson's SKIP) when `websockets` is not importable. Small clips and
metrics=mse,inv-ssim keep the whole file to well under a minute on two cores.

Environment: S2S_SERVE, S2S_ANALYZE (the programs), GST_PLUGIN_PATH_1_0 and
GST_REGISTRY_1_0 (the build's plugin, a private registry).
"""
import asyncio
import http.client
import json
import logging
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback

try:
    import websockets
    from websockets.exceptions import ConnectionClosed, InvalidStatus
except ImportError:
    print("SKIP: the Python package websockets is not installed (scripts/requirements.txt)")
    sys.exit(77)

SERVE = os.environ.get("S2S_SERVE")
ANALYZE = os.environ.get("S2S_ANALYZE")
if not SERVE or not ANALYZE:
    print("SKIP: S2S_SERVE / S2S_ANALYZE not set (run through meson test)")
    sys.exit(77)

OPTIONS = ["--metrics", "mse,inv-ssim", "--batch-size", "4"]
WS_PATH = "/ws/compute-metrics"
TIMEOUT = 60  # seconds for any one exchange

TMP = tempfile.mkdtemp(prefix="s2s-serve-test-")


# ---------------------------------------------------------------------------
# Clips and references
# ---------------------------------------------------------------------------
def encode(name, frames, pattern, width=64, height=48, extra=""):
    path = os.path.join(TMP, name)
    cmd = (f"gst-launch-1.0 -q videotestsrc num-buffers={frames} pattern={pattern} {extra} "
           f"! video/x-raw,width={width},height={height},framerate=30/1 ! x264enc "
           f"speed-preset=ultrafast key-int-max=10 ! mp4mux ! filesink location={path}")
    subprocess.run(cmd, shell=True, check=True)
    return path


def analyze(path, options=OPTIONS):
    """s2s-analyze --json for the same file and options."""
    out = path + ".json"
    subprocess.run([ANALYZE, path, "--json", out, "--quiet"] + options, check=True)
    with open(out) as f:
        doc = json.load(f)
    assert doc["done"] is True, doc
    return doc["metrics"]


def read(path):
    with open(path, "rb") as f:
        return f.read()


# ---------------------------------------------------------------------------
# The server
# ---------------------------------------------------------------------------
class Server:
    def __init__(self, *args, options=OPTIONS):
        self.log = open(os.path.join(TMP, "serve-%d.log" % time.monotonic_ns()), "w+")
        self.proc = subprocess.Popen([SERVE, "--listen", "127.0.0.1:0"] + options + list(args),
                                     stdout=subprocess.PIPE, stderr=self.log, text=True)
        line = self.proc.stdout.readline()
        m = re.search(r"listening on http://127\.0\.0\.1:(\d+)/", line)
        if not m:
            self.proc.kill()
            raise AssertionError("no listening line: %r\n%s" % (line, self.stderr()))
        self.port = int(m.group(1))
        self.url = "ws://127.0.0.1:%d%s" % (self.port, WS_PATH)
        deadline = time.monotonic() + TIMEOUT
        while self.get("/readyz")[0] != 200:
            assert self.proc.poll() is None, "server exited:\n" + self.stderr()
            assert time.monotonic() < deadline, "never ready"
            time.sleep(0.05)

    def get(self, path, headers=None):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        c.request("GET", path, headers=headers or {})
        r = c.getresponse()
        body = r.read().decode()
        c.close()
        return r.status, body

    def metric(self, name):
        status, body = self.get("/metrics", self.headers)
        assert status == 200, (status, body)
        m = re.search(r"^%s (\S+)$" % re.escape(name), body, re.M)
        assert m, (name, body)
        return float(m.group(1))

    headers = None

    def stderr(self):
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise AssertionError("server did not stop:\n" + self.stderr())
        return rc

    def fds(self):
        return os.listdir("/proc/%d/fd" % self.proc.pid)

    def rss_kib(self):
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise AssertionError("no VmRSS")


async def client(url, data, headers=None, log=None):
    """The service's example client: one binary message, then read until the
    server closes. Returns (messages, close code)."""
    messages = []
    async with websockets.connect(url, additional_headers=headers, max_size=2**24,
                                  open_timeout=TIMEOUT) as ws:
        try:
            await ws.send(data)
        except ConnectionClosed:
            pass  # refused while sending (over the limit): the error frame is still there
        try:
            while True:
                msg = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
                messages.append(msg)
                if log is not None:
                    log.append((time.monotonic(), msg))
        except ConnectionClosed:
            pass
        return messages, ws.close_code


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 4 * TIMEOUT))


def check_result(messages, code, expected):
    assert code == 1000, (code, messages[-3:])
    final = messages[-1]
    assert final.get("done") is True, final
    assert final["metrics"] == expected, (final["metrics"], expected)
    progress = [m for m in messages if "progress" in m]
    # The service: progress = i/N after every pair, message "Computing metrics: i/N".
    assert len(progress) == len(expected), (len(progress), len(expected))
    last = 0
    for i, m in enumerate(progress, 1):
        mm = re.fullmatch(r"Computing metrics: (\d+)/(\d+)", m["message"])
        assert mm and int(mm.group(1)) == i, m
        assert abs(m["progress"] - i / int(mm.group(2))) < 1e-12, m
        assert last < m["progress"] <= 1.0, m
        last = m["progress"]
    assert progress[-1]["progress"] == 1.0, progress[-1]


def check_error(messages, code, want_code, pattern):
    assert code == want_code, (code, messages)
    assert len(messages) >= 1 and "error" in messages[-1], messages
    assert re.search(pattern, messages[-1]["error"]), messages[-1]
    assert "\n" not in messages[-1]["error"]


# ---------------------------------------------------------------------------
# Tests
# ---------------------------------------------------------------------------
CLIPS = {}
EXPECTED = {}


class PingCounter(logging.Handler):
    """Counts the pings the clients receive (websockets logs frames at DEBUG)."""
    count = 0

    def emit(self, record):
        if record.getMessage().startswith("< PING"):
            PingCounter.count += 1


PINGS = PingCounter


def count_pings():
    logger = logging.getLogger("websockets.client")
    logger.setLevel(logging.DEBUG)
    logger.addHandler(PingCounter())
    logger.propagate = False


def setup_clips():
    # Moving pictures of different lengths: every pair has its own numbers.
    for name, frames, pattern, extra in [("a.mp4", 12, "ball", ""), ("b.mp4", 10, "snow", ""),
                                         ("c.mp4", 9, "smpte", "horizontal-speed=3"),
                                         ("d.mp4", 11, "zone-plate", "kt=3")]:
        CLIPS[name] = encode(name, frames, pattern, extra=extra)
        EXPECTED[name] = analyze(CLIPS[name])
        assert len(EXPECTED[name]) == frames - 1, (name, len(EXPECTED[name]))
        assert all(row[0] > 0 for row in EXPECTED[name]), (name, EXPECTED[name])
    # Long enough to still run when the test acts on it (cancel, drain).
    CLIPS["long.mp4"] = encode("long.mp4", 900, "ball", 320, 240)
    EXPECTED["long.mp4"] = analyze(CLIPS["long.mp4"])
    wav = os.path.join(TMP, "audio.wav")
    subprocess.run(f"gst-launch-1.0 -q audiotestsrc num-buffers=20 ! audioconvert ! wavenc "
                   f"! filesink location={wav}", shell=True, check=True)
    CLIPS["audio"] = wav


def test_root_and_health(srv):
    status, body = srv.get("/")
    assert status == 200, status
    doc = json.loads(body)
    assert doc["service"] == "Skip2Smooth Metrics API" and doc["status"] == "running", doc
    assert doc["device"] in ("cpu", "cuda"), doc
    assert srv.get("/healthz")[0] == 200
    assert srv.get("/readyz")[0] == 200
    assert srv.get("/nowhere")[0] == 404
    assert srv.get(WS_PATH)[0] == 400  # a plain GET is not an upgrade


def test_example_client(srv):
    messages, code = run(client(srv.url, read(CLIPS["a.mp4"])))
    check_result(messages, code, EXPECTED["a.mp4"])


def test_four_clients(srv):
    """--jobs 1: the first (a long clip) runs, the others wait with their
    positions and each gets its own result, in arrival order."""
    names = ["long.mp4", "b.mp4", "c.mp4", "d.mp4"]

    async def one(name, sent, log):
        async with websockets.connect(srv.url, open_timeout=TIMEOUT) as ws:
            await ws.send(read(CLIPS[name]))
            sent.set()
            messages = []
            try:
                while True:
                    msg = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
                    messages.append(msg)
                    log.append((name, msg))
            except ConnectionClosed:
                pass
            return messages, ws.close_code

    async def main():
        log = []
        tasks = []
        for name in names:
            sent = asyncio.Event()
            tasks.append(asyncio.create_task(one(name, sent, log)))
            await sent.wait()
            await asyncio.sleep(0.05)  # the server has it before the next one
        gauges = (srv.metric("s2s_serve_jobs_running"), srv.metric("s2s_serve_queue_depth"))
        return await asyncio.gather(*tasks), log, gauges

    results, log, gauges = run(main())
    # Measured while the first ran and three waited: the main loop answers.
    assert gauges == (1, 3), gauges
    for name, (messages, code) in zip(names, results):
        check_result(messages, code, EXPECTED[name])
    done_order = [name for name, msg in log if msg.get("done")]
    assert done_order == names, done_order
    # Every client after the first waited and was told its place, counting down.
    for k, (name, (messages, _)) in enumerate(zip(names, results)):
        positions = [m["position"] for m in messages if m.get("queued")]
        if k == 0:
            continue
        assert positions and positions[0] <= k and positions[-1] == 1, (name, positions)
        assert positions == sorted(positions, reverse=True), (name, positions)
        first_progress = next(i for i, m in enumerate(messages) if "progress" in m)
        assert all(i < first_progress for i, m in enumerate(messages) if m.get("queued"))


def test_bad_inputs(srv):
    """Each bad input gets one error frame, then 1011 (or 1009 over the
    limit); the server keeps serving."""
    data = read(CLIPS["a.mp4"])
    rnd = random.Random(17)
    cases = [
        ("empty", b"", 1011, r"empty upload"),
        ("random bytes", bytes(rnd.getrandbits(8) for _ in range(20000)), 1011,
         r"^upload: not a media file"),
        ("truncated mp4", data[: len(data) // 2], 1011, r"^upload: "),
        ("audio only", read(CLIPS["audio"]), 1011, r"^upload: no video stream"),
        ("over the limit", b"\0" * (2560 * 1024), 1009, r"over the limit of 2097152 bytes"),
        ("over the limit in fragments", [b"\0" * (256 * 1024)] * 16, 1009,
         r"over the limit of 2097152 bytes"),
        ("text frame", "hello", 1011, r"binary message, not text"),
    ]
    for what, payload, want, pattern in cases:
        try:
            messages, code = run(client(srv.url, payload))
        except Exception as e:
            raise AssertionError("%s: %r" % (what, e)) from e
        try:
            check_error(messages, code, want, pattern)
        except AssertionError as e:
            raise AssertionError("%s: %s" % (what, e)) from e

    async def two_messages():
        async with websockets.connect(srv.url) as ws:
            await ws.send(data)
            await ws.send(data)
            messages = []
            try:
                while True:
                    messages.append(json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT)))
            except ConnectionClosed:
                pass
            return messages, ws.close_code

    messages, code = run(two_messages())
    check_error(messages, code, 1011, r"one binary message per connection")
    # Still serving, with the right numbers.
    messages, code = run(client(srv.url, data))
    check_result(messages, code, EXPECTED["a.mp4"])


def test_disconnect_frees_worker(srv):
    """--jobs 1: A (long) is cut off after its first progress frame; B,
    waiting behind it, starts within a second."""
    long_data = read(CLIPS["long.mp4"])
    before = srv.metric('s2s_serve_jobs_total{outcome="cancelled"}')

    async def main():
        log = []
        ws_a = await websockets.connect(srv.url)
        await ws_a.send(long_data)
        while "progress" not in json.loads(await asyncio.wait_for(ws_a.recv(), TIMEOUT)):
            pass
        b = asyncio.create_task(client(srv.url, read(CLIPS["b.mp4"]), log=log))
        # B is queued behind A.
        while not any(m.get("queued") for _, m in log):
            await asyncio.sleep(0.01)
        ws_a.transport.abort()  # gone, without a close handshake
        t_cut = time.monotonic()
        messages, code = await b
        first = next(t for t, m in log if "progress" in m)
        return messages, code, first - t_cut

    messages, code, delay = run(main())
    check_result(messages, code, EXPECTED["b.mp4"])
    assert delay < 1.0, "the next job started %.2f s after the disconnect" % delay
    deadline = time.monotonic() + 5
    while srv.metric('s2s_serve_jobs_total{outcome="cancelled"}') < before + 1:
        assert time.monotonic() < deadline, srv.get("/metrics")
        time.sleep(0.05)
    assert srv.metric("s2s_serve_jobs_running") == 0
    # A was stopped, not run to its end for nobody.
    assert re.search(r"job \d+: cancelled \(the client left\): pipeline stopped", srv.stderr()), \
        srv.stderr()
    # No upload is left open (temporary files are unlinked and closed).
    links = [os.readlink("/proc/%d/fd/%s" % (srv.proc.pid, fd)) for fd in srv.fds()]
    assert not [l for l in links if l.endswith(".upload (deleted)")], links


def test_token():
    token_file = os.path.join(TMP, "token")
    with open(token_file, "w") as f:
        f.write("s3cret-token\n")
    srv = Server("--token-file", token_file)
    try:
        for headers in (None, {"Authorization": "Bearer wrong-token!"},
                        {"Authorization": "Basic czNjcmV0LXRva2Vu"}):
            try:
                run(client(srv.url, read(CLIPS["a.mp4"]), headers=headers))
                raise AssertionError("accepted without the right token: %r" % headers)
            except InvalidStatus as e:
                assert e.response.status_code == 401, e
        assert srv.get("/metrics")[0] == 401
        good = {"Authorization": "Bearer s3cret-token"}
        messages, code = run(client(srv.url, read(CLIPS["c.mp4"]), headers=good))
        check_result(messages, code, EXPECTED["c.mp4"])
        assert srv.get("/metrics", good)[0] == 200
        assert srv.get("/")[0] == 200  # the service's GET / stays open
    finally:
        assert srv.stop() == 0


def test_queue_full():
    """--queue 1: with one job running and one waiting, the next upload is
    refused with an error frame; the others finish."""
    srv = Server("--jobs", "1", "--queue", "1", "--keepalive", "1")
    try:
        async def main():
            log_a, log_b = [], []
            a = asyncio.create_task(client(srv.url, read(CLIPS["long.mp4"]), log=log_a))
            while not any("progress" in m for _, m in log_a):
                await asyncio.sleep(0.01)
            b = asyncio.create_task(client(srv.url, read(CLIPS["b.mp4"]), log=log_b))
            while not any(m.get("queued") for _, m in log_b):
                await asyncio.sleep(0.01)
            rc = await client(srv.url, read(CLIPS["c.mp4"]))
            return await a, await b, rc

        (ma, ca), (mb, cb), (mc, cc) = run(main())
        check_error(mc, cc, 1011, r"^queue full")
        check_result(ma, ca, EXPECTED["long.mp4"])
        check_result(mb, cb, EXPECTED["b.mp4"])
        assert [m["position"] for m in mb if m.get("queued")] == [1], mb[:3]

        # --keepalive 1: a client waiting 2.5 s gets pings.
        async def idle():
            before = PINGS.count
            async with websockets.connect(srv.url):
                await asyncio.sleep(2.5)
            return PINGS.count - before

        pings = run(idle())
        assert pings >= 1, "no keepalive ping in 2.5 s"
        assert srv.metric('s2s_serve_jobs_total{outcome="rejected"}') == 1
        assert srv.metric('s2s_serve_jobs_total{outcome="ok"}') == 2
    finally:
        assert srv.stop() == 0


def test_two_workers():
    """--jobs 2: four uploads at once, two pipelines at a time on their own
    threads; each client gets its own numbers."""
    srv = Server("--jobs", "2")
    try:
        names = ["a.mp4", "b.mp4", "c.mp4", "d.mp4"]

        async def main():
            return await asyncio.gather(*[client(srv.url, read(CLIPS[n])) for n in names])

        for name, (messages, code) in zip(names, run(main())):
            check_result(messages, code, EXPECTED[name])
        assert srv.metric('s2s_serve_jobs_total{outcome="ok"}') == 4
    finally:
        assert srv.stop() == 0


def test_lpips_options():
    """Element options reach the jobs: with an LPIPS model and other weights,
    the same numbers as s2s-analyze with those options."""
    model = os.environ.get("S2S_LPIPS_MODEL")
    if not model or not os.path.exists(model):
        print("  (no LPIPS test weights in this build: LPIPS case not run)")
        return
    options = ["--metrics", "mse,inv-ssim,lpips", "--lpips-model", model, "--alpha", "0.25",
               "--ssim-window", "gaussian11", "--batch-size", "5"]
    expected = analyze(CLIPS["d.mp4"], options)
    assert all(row[2] is not None and row[2] > 0 for row in expected), expected
    srv = Server(options=options)
    try:
        messages, code = run(client(srv.url, read(CLIPS["d.mp4"])))
        check_result(messages, code, expected)
    finally:
        assert srv.stop() == 0


def test_sigterm_drain():
    """SIGTERM: the running job finishes, the queued one is told and closed,
    no new connection is accepted, exit 0."""
    srv = Server("--jobs", "1", "--drain-timeout", "60")
    a_data = read(CLIPS["long.mp4"])
    expected_long = EXPECTED["long.mp4"]

    async def main():
        log_a, log_b = [], []
        a = asyncio.create_task(client(srv.url, a_data, log=log_a))
        while not any("progress" in m for _, m in log_a):
            await asyncio.sleep(0.01)
        b = asyncio.create_task(client(srv.url, read(CLIPS["b.mp4"]), log=log_b))
        while not any(m.get("queued") for _, m in log_b):
            await asyncio.sleep(0.01)
        srv.proc.send_signal(signal.SIGTERM)
        rb = await b
        ra = await a
        return ra, rb

    (ma, ca), (mb, cb) = run(main())
    check_result(ma, ca, expected_long)
    check_error(mb, cb, 1011, r"shutting down")
    assert srv.proc.wait(30) == 0, srv.stderr()
    try:
        run(client(srv.url, b"x"))
        raise AssertionError("connected after the drain")
    except OSError:
        pass


def test_drain_timeout():
    """A job still running when --drain-timeout ends gets an error frame."""
    srv = Server("--drain-timeout", "0.2", "--batch-size", "1")

    async def main():
        log = []
        a = asyncio.create_task(client(srv.url, read(CLIPS["long.mp4"]), log=log))
        while not any("progress" in m for _, m in log):
            await asyncio.sleep(0.01)
        srv.proc.send_signal(signal.SIGTERM)
        return await a

    messages, code = run(main())
    check_error(messages, code, 1011, r"shutting down: the job was cancelled")
    assert srv.proc.wait(30) == 0, srv.stderr()


def test_many_jobs(srv, n=200):
    """n short jobs in a row: RSS and open files stay flat."""
    data = read(CLIPS["c.mp4"])
    expected = EXPECTED["c.mp4"]

    async def main():
        rss, fds = [], []
        for i in range(n):
            messages, code = await client(srv.url, data)
            check_result(messages, code, expected)
            if i in (19, n - 1):
                await asyncio.sleep(0.2)  # closes finish
                rss.append(srv.rss_kib())
                fds.append(len(srv.fds()))
        return rss, fds

    rss, fds = run(main())
    print("  RSS after 20 and %d jobs: %d, %d KiB; open files %d, %d" % (n, rss[0], rss[1],
                                                                          fds[0], fds[1]))
    assert fds[1] <= fds[0], fds
    assert rss[1] - rss[0] < 16 * 1024, rss


def main():
    setup_clips()
    count_pings()
    failures = 0
    srv = Server("--jobs", "1", "--max-upload", "2M")
    shared = [test_root_and_health, test_example_client, test_four_clients, test_bad_inputs,
              test_disconnect_frees_worker, test_many_jobs]
    alone = [test_token, test_two_workers, test_queue_full, test_lpips_options, test_sigterm_drain,
             test_drain_timeout]
    for t in shared + alone:
        start = time.monotonic()
        try:
            t(srv) if t in shared else t()
            print("PASS %s (%.1f s)" % (t.__name__, time.monotonic() - start), flush=True)
        except Exception:
            failures += 1
            print("FAIL %s" % t.__name__, flush=True)
            traceback.print_exc()
            if srv.proc.poll() is not None:
                print("server log:\n" + srv.stderr())
                srv = Server("--jobs", "1", "--max-upload", "2M")
    rc = srv.stop()
    if rc != 0:
        failures += 1
        print("FAIL the server exited %d:\n%s" % (rc, srv.stderr()))
    print("%d failed" % failures)
    if failures:
        print("clips and server logs kept in " + TMP)
    else:
        shutil.rmtree(TMP, ignore_errors=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
