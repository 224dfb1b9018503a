#!/usr/bin/env python3
"""Expected pre-tokenizer splits of tokenizer_corpus.json (and 400 seeded random strings), computed with the Python `regex`
module (an independent regex engine with \\p{..} classes) from the exact expressions
llama.cpp uses (src/llama-vocab.cpp). Each expression is applied like llama.cpp's
`unicode_regex_split`: every match AND every unmatched gap between matches becomes a word,
and a list of expressions is applied in sequence, each to the previous one's words.

    pip install regex
    python3 runtime/tests/data/tokenizer_pretok_splits.py > runtime/tests/data/tokenizer_pretok_splits.json
"""
import json
import os
import random

import regex

GPT2 = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"
SMOLLM = [r"\p{N}", r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)"]
LLAMA3 = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}"
          r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
QWEN2 = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}"
         r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")


def split_one(words, expr):
    pat = regex.compile(expr)
    out = []
    for w in words:
        at = 0
        for m in pat.finditer(w):
            if m.start() > at:
                out.append(w[at:m.start()])
            if m.end() > m.start():
                out.append(m.group())
            at = m.end()
        if at < len(w):
            out.append(w[at:])
    return out


def split(text, exprs):
    words = [text] if text else []
    for e in exprs:
        words = split_one(words, e)
    return words


here = os.path.dirname(os.path.abspath(__file__))
corpus = json.load(open(os.path.join(here, "tokenizer_corpus.json"), encoding="utf-8"))

# Plus seeded random strings over an alphabet of the characters the expressions treat
# specially: apostrophe contractions in both cases, every whitespace kind (\r, \n, \t,
# NBSP, U+3000), digits of several scripts, letters, marks, symbols, emoji.
ALPHABET = ["'", "s", "S", "t", "T", "r", "e", "v", "l", "L", "m", "d", "D", "a", "Z",
            " ", " ", " ", "\n", "\r", "\t", "\u00a0", "\u3000", "\u200b", "\u000b",
            "0", "7", "\u00bd", "\u0663", "\u2167", "x", "\u00e9", "\u0301", "\u4e2d",
            "!", ".", ",", "-", "_", "(", "\u20ac", "\U0001F44D", "\U0001F3FD", "\u200d"]
rng = random.Random(20251128)
for _ in range(400):
    corpus.append("".join(rng.choice(ALPHABET) for _ in range(rng.randint(1, 24))))
cases = [
    {
        "text": t,
        "gpt2": split(t, [GPT2]),
        "smollm": split(t, SMOLLM),
        "llama3": split(t, [LLAMA3]),
        "qwen2": split(t, [QWEN2]),
    }
    for t in corpus
]
print(json.dumps({
    "description": "Pre-tokenizer words of tokenizer_corpus.json from Python `regex` "
                   f"{regex.__version__} with llama.cpp's expressions; made by tokenizer_pretok_splits.py",
    "cases": cases,
}, ensure_ascii=False, indent=1))
