#!/usr/bin/env python3
"""Writes tokenizer_random_corpus.json: 400 seeded random strings glued from pieces that
stress tokenizers (contractions in both cases, every whitespace kind, digits of several
scripts, combining marks, CJK / Cyrillic / Greek / Arabic / Hebrew, emoji with skin tones
and ZWJ, special-token texts of SmolLM2 and Gemma 3, byte-token look-alikes, U+10FFFD,
NUL). The llama.cpp ids for it are made with the crosscheck tool:

    python3 runtime/tests/data/tokenizer_random_corpus.py
    crosscheck tokenize --model <SmolLM2 gguf> --corpus tokenizer_random_corpus.json \\
        --out tokenizer_random_smollm2.llamacpp.json
    crosscheck tokenize --model <Gemma 3 gguf> --corpus tokenizer_random_corpus.json \\
        --out tokenizer_random_gemma3.llamacpp.json
"""
import json
import os
import random

PIECES = ["'", "s", "S", "t", "T", "re", "ve", "ll", "LL", "m", "d", "D", "the", " the", "Hello", " world",
          "ing", " ", " ", "  ", "\n", "\r\n", "\t", "\u00a0", "\u3000", "\u200b", "\u000b", "\u0085",
          "0", "7", "123", "2024", "\u00bd", "\u0663", "\u2167", "é", "e\u0301", "中文", "日本", "한국",
          "Привет", "Ωμέγα", "مرحبا", "שלום", "!", ".", ",", "-", "_", "(", ")", "{", "}", "=>", "::", "€",
          "👍", "🏽", "\u200d", "👨‍👩‍👧", "<|im_end|>", "<|im_start|>", "<|endoftext|>", "<end_of_turn>",
          "<start_of_turn>", "<bos>", "<eos>", "<s>", "</s>", "<0x41>", "▁", "Ġ", "ĉ", "\U0010fffd",
          "\ufffd", "\u0000"]

rng = random.Random(7)
corpus = ["".join(rng.choice(PIECES) for _ in range(rng.randint(1, 30))) for _ in range(400)]
here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, "tokenizer_random_corpus.json"), "w", encoding="utf-8") as f:
    json.dump(corpus, f, ensure_ascii=False, indent=0)
