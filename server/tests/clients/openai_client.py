"""The official `openai` Python client against a running `edgellm serve`.

Usage: python3 openai_client.py BASE_URL API_KEY
Exits 0 when every check passes; prints one line per check. Run by
host-cli/tests/serve_clients.rs, which starts the server (SmolLM2, --api-key, 4 slots).
"""

import concurrent.futures
import json
import sys
import urllib.request

import openai

BASE, KEY = sys.argv[1], sys.argv[2]
client = openai.OpenAI(base_url=BASE + "/v1", api_key=KEY, max_retries=0, timeout=120)
MODEL = client.models.list().data[0].id
checks = 0


def check(name, ok, detail=""):
    global checks
    if not ok:
        print(f"FAIL {name}: {detail}")
        sys.exit(1)
    checks += 1
    print(f"ok   {name}")


def tokenize(text, add_special=True):
    req = urllib.request.Request(
        BASE + "/tokenize",
        json.dumps({"content": text, "add_special": add_special}).encode(),
        {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"},
    )
    return json.load(urllib.request.urlopen(req))["tokens"]


MESSAGES = [{"role": "user", "content": "Name three colors."}]

# models
models = client.models.list().data
check("models.list has the one served model", len(models) == 1 and models[0].object == "model",
      str(models))

# chat, greedy
chat = client.chat.completions.create(model=MODEL, messages=MESSAGES, max_tokens=24, temperature=0)
text = chat.choices[0].message.content
u = chat.usage
check("chat returns text", chat.object == "chat.completion" and len(text) > 0, repr(text))
check("chat usage adds up", u.total_tokens == u.prompt_tokens + u.completion_tokens
      and 0 < u.completion_tokens <= 24 and u.prompt_tokens > 5, str(u))
check("finish_reason length at max_tokens",
      (chat.choices[0].finish_reason == "length") == (u.completion_tokens == 24),
      f"{chat.choices[0].finish_reason} after {u.completion_tokens}")
check("max_completion_tokens is honoured",
      client.chat.completions.create(model=MODEL, messages=MESSAGES, max_completion_tokens=3,
                                     temperature=0).usage.completion_tokens <= 3)

# chat, streamed: same greedy text, usage in the last chunk
chunks = list(client.chat.completions.create(
    model=MODEL, messages=MESSAGES, max_tokens=24, temperature=0, stream=True,
    stream_options={"include_usage": True}))
streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
check("streamed chat equals the whole answer", streamed == text, f"{streamed!r} vs {text!r}")
check("first chunk carries the role", chunks[0].choices[0].delta.role == "assistant")
finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
check("one finish chunk", finishes == [chat.choices[0].finish_reason], str(finishes))
check("usage chunk last, equal counts", chunks[-1].choices == [] and chunks[-1].usage is not None
      and chunks[-1].usage.completion_tokens == u.completion_tokens
      and chunks[-1].usage.prompt_tokens == u.prompt_tokens, str(chunks[-1]))

# text completions, and their prompt token count against /tokenize
PROMPT = "The three primary colors are"
comp = client.completions.create(model=MODEL, prompt=PROMPT, max_tokens=16, temperature=0)
check("completion returns text", comp.object == "text_completion" and len(comp.choices[0].text) > 0)
check("completion prompt_tokens equals /tokenize", comp.usage.prompt_tokens == len(tokenize(PROMPT)),
      f"{comp.usage.prompt_tokens} vs {len(tokenize(PROMPT))}")
streamed = "".join(c.choices[0].text for c in client.completions.create(
    model=MODEL, prompt=PROMPT, max_tokens=16, temperature=0, stream=True))
check("streamed completion equals the whole one", streamed == comp.choices[0].text)

# stop sequences: cut exactly before the first occurrence, finish_reason stop
full = client.completions.create(model=MODEL, prompt=PROMPT, max_tokens=32, temperature=0).choices[0].text
words = full.split()
stop = next((w for w in words[2:] if full.index(w) > 0), None)
check("the greedy text is long enough to pick a stop word", stop is not None, repr(full))
cut = client.completions.create(model=MODEL, prompt=PROMPT, max_tokens=32, temperature=0, stop=[stop])
check("stop cuts before the stop sequence", cut.choices[0].text == full[: full.index(stop)]
      and cut.choices[0].finish_reason == "stop", f"{cut.choices[0].text!r} / {stop!r} / {full!r}")
cut_stream = "".join(c.choices[0].delta.content or "" for c in client.chat.completions.create(
    model=MODEL, messages=MESSAGES, max_tokens=24, temperature=0, stream=True, stop=[text[5:9]])
    if c.choices)
check("a streamed stop never shows part of the stop sequence", cut_stream == text[: text.index(text[5:9])],
      f"{cut_stream!r} vs {text!r}")

# seeds: the same seed gives the same text, another seed another text
def sampled(seed):
    return client.chat.completions.create(model=MODEL, messages=MESSAGES, max_tokens=32,
                                          temperature=1.0, seed=seed).choices[0].message.content
a, b, c = sampled(42), sampled(42), sampled(43)
check("same seed, same text", a == b, f"{a!r} vs {b!r}")
check("another seed, another text", a != c, repr(a))

# concurrency: four requests at once give what each gives alone (batching changes no bit)
seeds = [1, 2, 3, 4, 5, 6]
alone = [sampled(s) for s in seeds]
with concurrent.futures.ThreadPoolExecutor(len(seeds)) as pool:
    together = list(pool.map(sampled, seeds))
check("concurrent requests equal sequential ones", together == alone, f"{together} vs {alone}")

# a continued conversation reuses its slot's cache
turn1 = MESSAGES + [{"role": "assistant", "content": text}, {"role": "user", "content": "And two more?"}]
again = client.chat.completions.create(model=MODEL, messages=turn1, max_tokens=4, temperature=0)
cached = again.usage.prompt_tokens_details.cached_tokens
check("a follow-up turn evaluates only its new tokens", cached >= u.prompt_tokens - 1,
      f"cached {cached} of {again.usage.prompt_tokens}, first turn had {u.prompt_tokens}")

# errors in OpenAI's shape, through the client's exception types
def raises(kind, f):
    try:
        f()
    except kind as e:
        return e
    return None

e = raises(openai.NotFoundError, lambda: client.chat.completions.create(
    model="gpt-4o", messages=MESSAGES, max_tokens=2))
check("unknown model is 404 model_not_found", e is not None and e.code == "model_not_found", str(e))
e = raises(openai.BadRequestError, lambda: client.chat.completions.create(
    model=MODEL, messages=MESSAGES, max_tokens=10**9))
check("huge max_tokens is 400 context_length_exceeded",
      e is not None and e.code == "context_length_exceeded", str(e))
e = raises(openai.BadRequestError, lambda: client.chat.completions.create(
    model=MODEL, messages=[], max_tokens=2))
check("no messages is 400", e is not None and e.param == "messages", str(e))
bad = openai.OpenAI(base_url=BASE + "/v1", api_key="wrong", max_retries=0)
e = raises(openai.AuthenticationError, lambda: bad.models.list())
check("a wrong key is 401", e is not None and e.status_code == 401, str(e))

print(f"{checks} checks passed")
