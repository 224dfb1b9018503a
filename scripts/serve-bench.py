#!/usr/bin/env python3
"""Server speed side by side: `edgellm run`, one stream through `edgellm serve`, and N
concurrent streams, alternating in each repetition so machine load hits all alike.

    python3 scripts/serve-bench.py --bin target/release/edgellm --url http://127.0.0.1:8080 \\
        -m smollm2 -t 2 --streams 4 -n 128 -r 5

The server must already run (same model and -t). Reports, as mean ± sd over the repetitions:
- run: `edgellm run`'s generation rate (its summary line), greedy, -n tokens;
- serve x1: one greedy completion of -n tokens, the server's decode rate
  (`timings.predicted_per_second`) and the client's tokens ÷ wall time;
- serve xN: N concurrent completions (different prompts), all generated tokens ÷ wall time.
Standard library only.
"""

import argparse
import json
import re
import statistics
import subprocess
import threading
import time
import urllib.request

p = argparse.ArgumentParser()
p.add_argument("--bin", required=True)
p.add_argument("--url", required=True)
p.add_argument("-m", "--model", default="smollm2")
p.add_argument("-t", "--threads", default="2")
p.add_argument("--streams", type=int, default=4)
p.add_argument("-n", type=int, default=128)
p.add_argument("-r", "--reps", type=int, default=5)
p.add_argument("--json")
a = p.parse_args()
PROMPTS = ["Once upon a time", "The history of the bicycle", "In the beginning of the year",
           "A recipe for bread:", "The best way to learn", "On a cold morning", "Dear friend,",
           "The mountain was"]


def run_rate():
    out = subprocess.run([a.bin, "run", "-m", a.model, "-t", a.threads, "--temp", "0", "-n", str(a.n),
                          "-p", PROMPTS[0]], capture_output=True, text=True, check=True)
    return float(re.search(r"generated \d+ tokens \(([\d.]+) t/s\)", out.stderr).group(1))


def complete(prompt, out):
    body = json.dumps({"prompt": prompt, "max_tokens": a.n, "temperature": 0}).encode()
    req = urllib.request.Request(a.url + "/v1/completions", body, {"Content-Type": "application/json"})
    out.append(json.load(urllib.request.urlopen(req)))


def serve(n):
    results = []
    threads = [threading.Thread(target=complete, args=(PROMPTS[i % len(PROMPTS)], results)) for i in range(n)]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.monotonic() - start
    tokens = sum(r["usage"]["completion_tokens"] for r in results)
    return tokens / wall, statistics.mean(r["timings"]["predicted_per_second"] for r in results)


samples = {"run": [], "serve x1 (server decode rate)": [], "serve x1 (client)": [],
           f"serve x{a.streams} (aggregate)": []}
serve(1)  # warm-up
for rep in range(a.reps):
    order = [0, 1, 2] if rep % 2 == 0 else [2, 1, 0]
    for what in order:
        if what == 0:
            samples["run"].append(run_rate())
        elif what == 1:
            client, server = serve(1)
            samples["serve x1 (client)"].append(client)
            samples["serve x1 (server decode rate)"].append(server)
        else:
            samples[f"serve x{a.streams} (aggregate)"].append(serve(a.streams)[0])

mean = {k: statistics.mean(v) for k, v in samples.items()}
print(f"| test (-t {a.threads}, -n {a.n}, {a.reps} reps) | tokens/s | ÷ run | ÷ serve x1 |")
print("|---|---|---|---|")
one = mean["serve x1 (client)"]
for k, v in samples.items():
    sd = statistics.stdev(v) if len(v) > 1 else 0.0
    print(f"| {k} | {mean[k]:.1f} ± {sd:.1f} | {mean[k] / mean['run']:.2f} | {mean[k] / one:.2f} |")
if a.json:
    with open(a.json, "w") as f:
        json.dump({"args": vars(a), "samples": samples, "mean": mean}, f, indent=1)
