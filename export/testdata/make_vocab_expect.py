#!/usr/bin/python3
"""Writes vocab_expect.json: digests of the tokenizer metadata in llama.cpp's
own vocabulary files (models/ggml-vocab-*.gguf, read with llama.cpp's gguf-py),
for TestTokenizerMatchesLlamaCpp. Digests are SHA-256 (hex) of the tokens
joined by "\n", of the token types as decimal numbers joined by ",", and of
the merges joined by "\n", over the first n tokens / merges.

    /usr/bin/python3 make_vocab_expect.py /tmp/llama.cpp > vocab_expect.json
"""
import gzip
import hashlib
import os
import json
import sys

sys.path.insert(0, sys.argv[1] + "/gguf-py")
import gguf  # noqa: E402


def sha(items):
    return hashlib.sha256("\n".join(items).encode()).hexdigest()


out = {}
# golora's tokenizer.json fixture (../../tokenizer/testdata/NAME) for each
# vocabulary file. The gpt2 fixture is GPT-2's whole tokenizer, so everything
# is compared; the llama3 and qwen3 fixtures keep the first tokens and merges
# of the real vocabularies, so only those prefixes are (and not the pre name,
# whose check-text hash needs the whole vocabulary).
for name, fixture in [("gpt-2", "gpt2"), ("llama-bpe", "llama3"), ("qwen2", "qwen3")]:
    r = gguf.GGUFReader(f"{sys.argv[1]}/models/ggml-vocab-{name}.gguf")
    f = lambda k: r.fields[k].contents()
    tokens, types, merges = f("tokenizer.ggml.tokens"), f("tokenizer.ggml.token_type"), f("tokenizer.ggml.merges")
    with gzip.open(f"{os.path.dirname(__file__) or '.'}/../../tokenizer/testdata/{fixture}/tokenizer.json.gz") as fx:
        model = json.load(fx)["model"]
    ids = set(model["vocab"].values())
    n = 0
    while n in ids:
        n += 1
    if n < len(tokens):
        tokens, types, merges = tokens[:n], types[:n], merges[:len(model["merges"])]
    if name == "llama-bpe":
        # llama.cpp converted an earlier Llama-3 tokenizer.json, whose merges of
        # spaces come in another order than the fixture's (Llama-3.x): no merges.
        merges = []
    out[fixture] = {
        "file": f"ggml-vocab-{name}.gguf",
        "pre": f("tokenizer.ggml.pre"),
        "tokens": len(tokens),
        "tokens_sha256": sha(tokens),
        "types_sha256": hashlib.sha256(",".join(str(t) for t in types).encode()).hexdigest(),
        "merges": len(merges),
        "merges_sha256": sha(merges),
        "bos": f("tokenizer.ggml.bos_token_id"),
        "eos": f("tokenizer.ggml.eos_token_id"),
    }
json.dump(out, sys.stdout, indent=1, ensure_ascii=False)
print()
