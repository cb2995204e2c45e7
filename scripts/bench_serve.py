#!/usr/bin/env python3
"""The `serve` section of scripts/bench (issue 18): the live view's speed.

  latency  a step event reaches an SSE client < 100 ms after the engine
           appends it (the event's `at` is taken when it is appended; the
           client's clock is the same machine's)
  clients  50 SSE clients following a play slow it by <= 5% (the play's own
           span, first step's end to run-end, with and without them,
           interleaved rounds, medians)
  rss      an idle `serve` (after a few pages were served) < 30 MiB

usage: bench_serve.py RUNBOOK WORKDIR [ROUNDS]
"""

import http.client
import selectors
import socket
import json
import os
import resource
import statistics
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone

RUNBOOK, WORK = sys.argv[1], sys.argv[2]
ROUNDS = int(sys.argv[3]) if len(sys.argv) > 3 else 5


def project(name, steps_md):
    d = os.path.join(WORK, name)
    os.makedirs(os.path.join(d, "runbooks"), exist_ok=True)
    with open(os.path.join(d, "runbook.toml"), "w") as f:
        f.write('state = ".runbook"\n')
    with open(os.path.join(d, "runbooks", "bench.md"), "w") as f:
        f.write(steps_md)
    return d


def gated(d, steps, body):
    """A runbook held at its first step until `go` exists, then `steps` steps."""
    gate = os.path.join(d, "go")
    md = f"```bash {{#gate}}\nwhile [ ! -f '{gate}' ]; do sleep 0.005; done\n```\n\n"
    md += "".join(f"```bash {{#s{i}}}\n{body.format(i=i)}\n```\n\n" for i in range(steps))
    return md, gate


def start_serve(d):
    env = dict(os.environ, RUNBOOK_LOG="warn")
    p = subprocess.Popen([RUNBOOK, "serve", "--listen", "127.0.0.1:0"], cwd=d, env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    url = p.stdout.readline().split()[-1].rstrip("/")
    host, port = url.split("//")[1].split(":")
    return p, host, int(port)


def get(host, port, path):
    c = http.client.HTTPConnection(host, port, timeout=30)
    c.request("GET", path)
    r = c.getresponse()
    body = r.read()
    c.close()
    return body


def wait_run(host, port, known):
    """The id of the newest run not in `known`."""
    t0 = time.time()
    while time.time() - t0 < 30:
        rows = json.loads(get(host, port, "/api/runs"))
        new = [r["run"] for r in rows if r["run"] not in known and not r["run"].startswith(".")]
        if new:
            return new[-1]
        time.sleep(0.002)
    raise SystemExit("bench serve: the run did not start")


def parse_at(s):
    return datetime.strptime(s.replace("Z", "+0000"), "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()


class Follower(threading.Thread):
    """An SSE client of a run: reads until run-end, noting when each event came."""

    def __init__(self, host, port, run):
        super().__init__(daemon=True)
        self.host, self.port, self.run_id = host, port, run
        self.connected = threading.Event()
        self.got = []  # (receipt time, entry)
        self.ended = False

    def run(self):
        c = http.client.HTTPConnection(self.host, self.port, timeout=120)
        c.request("GET", f"/api/runs/{self.run_id}/events")
        r = c.getresponse()
        self.connected.set()
        data = []
        while True:
            line = r.fp.readline()
            if not line:
                return
            line = line.decode().rstrip("\n")
            if line.startswith("data:"):
                data.append(line[5:].lstrip())
            elif line == "" and data:
                now = time.time()
                text = "\n".join(data)
                data = []
                try:
                    e = json.loads(text)
                except ValueError:
                    continue
                if "seq" in e:
                    self.got.append((now, e))
                    if e.get("event") == "run-end":
                        self.ended = True
                        c.close()
                        return


class Readers(threading.Thread):
    """`n` SSE clients of a run read by one thread, as browsers on other
    machines would: the bytes are read, and the harness spends as little of
    this machine's CPU as it can (no thread, no parsing per client; what
    arrived is drained every DRAIN seconds, the kernel buffering it
    meanwhile, so it costs a recv per client per drain rather than per
    write of the server)."""

    DRAIN = 0.05

    def __init__(self, host, port, run, n):
        super().__init__(daemon=True)
        self.connected = threading.Event()
        self.sel = selectors.DefaultSelector()
        self.left = {}
        for _ in range(n):
            s = socket.create_connection((host, port), timeout=30)
            s.sendall(f"GET /api/runs/{run}/events HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
            s.setblocking(False)
            self.sel.register(s, selectors.EVENT_READ)
            self.left[s] = b""
        self.headers = set()
        self.ended = 0

    def run(self):
        while self.left:
            if self.connected.is_set():
                time.sleep(self.DRAIN)
            for key, _ in self.sel.select(timeout=60):
                s = key.fileobj
                chunk = s.recv(65536)
                self.headers.add(s)
                if len(self.headers) == len(self.left) + self.ended:
                    self.connected.set()
                if chunk and b'"event":"run-end"' not in self.left[s] + chunk:
                    self.left[s] = chunk[-64:]
                    continue
                self.ended += bool(chunk)
                self.sel.unregister(s)
                s.close()
                del self.left[s]
        self.connected.set()


def play_with(d, gate, host, port, clients, known, srv=None):
    """Play once with `clients` followers; returns (span of the play after its gate, followers,
    when the gate opened, serve's CPU ms from then to the play's end, this harness's)."""
    if os.path.exists(gate):
        os.remove(gate)
    p = subprocess.Popen([RUNBOOK, "play", "bench", "--yes", "--fresh"], cwd=d,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    run = wait_run(host, port, known)
    known.add(run)
    if clients == 1:
        fs = [Follower(host, port, run)]
        fs[0].start()
        fs[0].connected.wait(30)
    elif clients:
        fs = [Readers(host, port, run, clients)]
        fs[0].start()
        fs[0].connected.wait(30)
    else:
        fs = []
    # Every follower has caught up with what is there: the play goes on.
    time.sleep(0.2)
    opened = time.time()
    c0 = cpu_ms(srv.pid) if srv else 0
    h0 = sum(os.times()[:2])
    open(gate, "w").close()
    p.wait()
    during = cpu_ms(srv.pid) - c0 if srv else 0
    harness = (sum(os.times()[:2]) - h0) * 1000
    for f in fs:
        f.join(60)
    events = [json.loads(line) for line in open(os.path.join(d, ".runbook", "runs", run, "journal.jsonl"))]
    gate_end = next(parse_at(e["at"]) for e in events if e.get("event") == "step-end" and e.get("step") == "gate")
    run_end = next(parse_at(e["at"]) for e in events if e.get("event") == "run-end")
    return run_end - gate_end, fs, opened, during, harness


def cpu_ms(pid):
    """CPU time of a process so far, in ms: its threads' run time in ns
    (schedstat), finer than the clock ticks of /proc/PID/stat."""
    total = 0
    for t in os.listdir(f"/proc/{pid}/task"):
        try:
            total += int(open(f"/proc/{pid}/task/{t}/schedstat").read().split()[0])
        except (OSError, ValueError):
            pass  # a thread that just ended
    return total / 1e6


def children_cpu_ms():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (r.ru_utime + r.ru_stime) * 1000


def latency():
    d = project("serve-latency", "")
    md, gate = gated(d, 40, "sleep 0.05; echo {i}")
    open(os.path.join(d, "runbooks", "bench.md"), "w").write(md)
    srv, host, port = start_serve(d)
    try:
        _, fs, opened, _, _ = play_with(d, gate, host, port, 1, set())
        # Events appended once the client was following (the catch-up is not latency).
        lat = [(t - parse_at(e["at"])) * 1000 for t, e in fs[0].got if parse_at(e["at"]) > opened]
        lat.sort()
        p95 = lat[int(len(lat) * 0.95) - 1]
        print(f"latency: event appended -> SSE client, {len(lat)} events: median {statistics.median(lat):.1f} ms, "
              f"p95 {p95:.1f} ms, max {lat[-1]:.1f} ms (target < 100 ms)")
    finally:
        srv.kill()
        srv.wait()


def clients():
    d = project("serve-clients", "")
    md, gate = gated(d, 200, "echo step {i}")
    open(os.path.join(d, "runbooks", "bench.md"), "w").write(md)
    srv, host, port = start_serve(d)
    known = set()
    try:
        spans = {0: [], 50: []}
        cpu = {0: [], 50: []}
        for _ in range(ROUNDS):
            for n in (0, 50):
                s0, c0 = cpu_ms(srv.pid), children_cpu_ms()
                span, fs, _, during, harness = play_with(d, gate, host, port, n, known, srv)
                cpu[n].append((cpu_ms(srv.pid) - s0, children_cpu_ms() - c0, during, harness))
                spans[n].append(span)
                if n and fs[0].ended != n:
                    print("clients: a follower did not see the run's end")
        a, b = statistics.median(spans[0]), statistics.median(spans[50])
        print(f"clients: 200-step play, median of {ROUNDS}: alone {a * 1000:.0f} ms, with 50 SSE clients "
              f"{b * 1000:.0f} ms, slowdown {(b / a - 1) * 100:+.1f}% (target <= 5%)")
        serve50 = statistics.median(x[0] for x in cpu[50])
        play50 = statistics.median(x[1] for x in cpu[50])
        print(f"  CPU per play, medians: the play (engine + steps) {play50:.0f} ms; serve with 50 clients "
              f"{serve50:.0f} ms (alone: {statistics.median(x[0] for x in cpu[0]):.0f} ms), of which while the "
              f"play ran {statistics.median(x[2] for x in cpu[50]):.0f} ms "
              f"(alone: {statistics.median(x[2] for x in cpu[0]):.0f} ms); this harness's 50 readers "
              f"{statistics.median(x[3] for x in cpu[50]):.0f} ms")
        print("  rounds (ms): alone " + " ".join(f"{x * 1000:.0f}" for x in spans[0])
              + "; with 50 " + " ".join(f"{x * 1000:.0f}" for x in spans[50]))
    finally:
        srv.kill()
        srv.wait()


def rss():
    d = project("serve-rss", "```bash {#a}\necho a\n```\n\n```bash {#b}\necho b\n```\n")
    for _ in range(3):
        subprocess.run([RUNBOOK, "play", "bench", "--yes", "--fresh"], cwd=d,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    srv, host, port = start_serve(d)
    try:
        time.sleep(0.3)
        kib = lambda: int(next(x for x in open(f"/proc/{srv.pid}/status") if x.startswith("VmRSS")).split()[1])
        fresh = kib()
        rows = json.loads(get(host, port, "/api/runs"))
        for path in ["/", "/runbooks", "/runbooks/bench", "/assets/serve.js"] + \
                [f"/runs/{r['run']}" for r in rows] + [f"/api/runs/{r['run']}" for r in rows]:
            get(host, port, path)
        time.sleep(0.5)
        idle = kib()
        print(f"rss: idle serve {fresh / 1024:.1f} MiB at start, {idle / 1024:.1f} MiB after serving "
              f"{len(rows) * 2 + 4} pages (target < 30 MiB)")
    finally:
        srv.kill()
        srv.wait()


if __name__ == "__main__":
    latency()
    clients()
    rss()
