#!/usr/bin/env python3
"""A bounded load test of `edgellm serve`: N clients stream chat requests for S seconds.

    python3 scripts/serve-load.py http://127.0.0.1:8080 --clients 8 --seconds 60 [--key K] [--json OUT]

Each client sends streaming chat requests back to back (different prompts and seeds). A
request must either stream to `data: [DONE]` with a usage chunk whose counts add up, or be
refused with 503, a Retry-After header and an OpenAI error body (the client then waits and
retries). Anything else — another status, a broken stream, a count that does not add up —
is a failure. At the end the server's /metrics must agree with what the clients saw:
generated tokens, completed requests and rejections. Prints p50/p99 time to first token,
p50 time per request and the aggregate generation rate; exits 1 on any failure.
Standard library only.
"""

import argparse
import http.client
import json
import statistics
import sys
import threading
import time
import urllib.parse

p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
p.add_argument("url")
p.add_argument("--clients", type=int, default=8)
p.add_argument("--seconds", type=float, default=60)
p.add_argument("--max-tokens", type=int, default=48)
p.add_argument("--key")
p.add_argument("--json", help="write the summary as JSON to this file")
args = p.parse_args()
url = urllib.parse.urlparse(args.url)
headers = {"Content-Type": "application/json"}
if args.key:
    headers["Authorization"] = "Bearer " + args.key

TOPICS = ["the sea", "a robot", "autumn", "a small town", "mountains", "a lost key", "the moon",
          "coffee", "a library", "trains"]
lock = threading.Lock()
results = {"completed": 0, "rejected": 0, "tokens": 0, "ttft": [], "latency": [], "failures": []}


def fail(msg):
    with lock:
        results["failures"].append(msg)


def one_request(client_id, n):
    body = json.dumps({
        "messages": [{"role": "user", "content": f"Write two sentences about {TOPICS[(client_id + n) % len(TOPICS)]}."}],
        "max_tokens": args.max_tokens, "stream": True, "seed": client_id * 1000 + n,
        "stream_options": {"include_usage": True},
    })
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=300)
    start = time.monotonic()
    conn.request("POST", "/v1/chat/completions", body, headers)
    r = conn.getresponse()
    if r.status == 503:
        err = json.loads(r.read())
        if "error" not in err or r.getheader("Retry-After") is None:
            fail(f"503 without an error body or Retry-After: {err}")
        with lock:
            results["rejected"] += 1
        conn.close()
        return float(r.getheader("Retry-After") or 1)
    if r.status != 200:
        fail(f"status {r.status}: {r.read()[:200]!r}")
        conn.close()
        return 1.0
    first, pieces, usage, done, finish = None, 0, None, False, None
    buf = b""
    while True:
        line = r.readline()
        if not line:
            break
        line = line.strip()
        if not line.startswith(b"data: "):
            continue
        data = line[6:]
        if data == b"[DONE]":
            done = True
            break
        chunk = json.loads(data)
        if "error" in chunk:
            fail(f"error inside the stream: {chunk}")
            break
        if chunk.get("usage"):
            usage = chunk["usage"]
        for c in chunk.get("choices", []):
            if c["delta"].get("content"):
                pieces += 1
                if first is None:
                    first = time.monotonic()
            finish = c.get("finish_reason") or finish
    conn.close()
    end = time.monotonic()
    if not done or usage is None:
        fail(f"stream ended without [DONE] and usage (done={done}, usage={usage})")
        return 0
    n_tok = usage["completion_tokens"]
    if not (1 <= n_tok <= args.max_tokens and pieces <= n_tok
            and usage["total_tokens"] == usage["prompt_tokens"] + n_tok):
        fail(f"counts do not add up: {pieces} text chunks, usage {usage}")
    # "length" only at max_tokens; below it only "stop" (the last sampled token may end the
    # turn exactly at max_tokens, which is "stop" too).
    if finish not in ("stop", "length") or (finish == "length" and n_tok != args.max_tokens) \
            or (n_tok < args.max_tokens and finish != "stop"):
        fail(f"finish_reason {finish} after {n_tok} of {args.max_tokens} tokens")
    with lock:
        results["completed"] += 1
        results["tokens"] += n_tok
        results["ttft"].append((first or end) - start)
        results["latency"].append(end - start)
    return 0


def client(client_id, deadline):
    n = 0
    while time.monotonic() < deadline:
        try:
            wait = one_request(client_id, n)
        except Exception as e:  # a dropped connection, a timeout, bad JSON
            fail(f"client {client_id}: {type(e).__name__}: {e}")
            wait = 1.0
        n += 1
        if wait:
            time.sleep(wait)


def metric(name):
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    conn.request("GET", "/metrics", headers=headers)
    text = conn.getresponse().read().decode()
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise SystemExit(f"no metric {name}")


base = {k: metric("edgellm_" + k) for k in
        ["generated_tokens_total", "requests_completed_total", "requests_rejected_total"]}
start = time.monotonic()
threads = [threading.Thread(target=client, args=(i, start + args.seconds)) for i in range(args.clients)]
for t in threads:
    t.start()
for t in threads:
    t.join()
elapsed = time.monotonic() - start

seen = {
    "generated_tokens_total": results["tokens"],
    "requests_completed_total": results["completed"],
    "requests_rejected_total": results["rejected"],
}
for k, v in seen.items():
    server = metric("edgellm_" + k) - base[k]
    if server != v:
        fail(f"/metrics {k} grew by {server:.0f}, the clients saw {v}")
if results["completed"] == 0:
    fail("no request completed")

q = lambda xs, f: sorted(xs)[min(len(xs) - 1, int(f * len(xs)))] if xs else float("nan")
summary = {
    "clients": args.clients, "seconds": round(elapsed, 1), "max_tokens": args.max_tokens,
    "completed": results["completed"], "rejected_503": results["rejected"],
    "generated_tokens": results["tokens"],
    "aggregate_tokens_per_second": round(results["tokens"] / elapsed, 1),
    "ttft_p50_s": round(q(results["ttft"], 0.5), 3), "ttft_p99_s": round(q(results["ttft"], 0.99), 3),
    "latency_p50_s": round(q(results["latency"], 0.5), 3),
    "failures": results["failures"][:20],
}
print(json.dumps(summary, indent=1))
if args.json:
    with open(args.json, "w") as f:
        json.dump(summary, f, indent=1)
if results["failures"]:
    print(f"FAILED: {len(results['failures'])} problems", file=sys.stderr)
    sys.exit(1)
print(f"load test passed: {results['completed']} requests, {results['rejected']} refused with 503, "
      f"{summary['aggregate_tokens_per_second']} tokens/s, TTFT p50 {summary['ttft_p50_s']} s / "
      f"p99 {summary['ttft_p99_s']} s")
