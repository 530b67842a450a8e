#!/usr/bin/python3
"""Compares two GGUF files tensor by tensor and key by key with llama.cpp's
gguf-py (PYTHONPATH=LLAMA_CPP/gguf-py):

    quantcmp.py NAME A.gguf B.gguf

prints how many tensors have equal types and equal bytes, the type counts,
and every tensor or metadata value that differs; exits 1 if any does.
Tensor order is not compared (llama-quantize orders by layer).
"""
import collections
import sys

from gguf import GGUFReader


def fields(r):
    out = {}
    for k, f in r.fields.items():
        if k.startswith("GGUF."):
            continue
        out[k] = [bytes(f.parts[i]) for i in f.data]
    return out


name, a, b = sys.argv[1:4]
ra, rb = GGUFReader(a), GGUFReader(b)
ta = {t.name: t for t in ra.tensors}
tb = {t.name: t for t in rb.tensors}
bad = []
if ta.keys() != tb.keys():
    bad.append(f"tensor names differ: {sorted(ta.keys() ^ tb.keys())}")
types = collections.Counter()
same = 0
for n in sorted(ta.keys() & tb.keys()):
    x, y = ta[n], tb[n]
    types[x.tensor_type.name] += 1
    if x.tensor_type != y.tensor_type:
        bad.append(f"{n}: {x.tensor_type.name} vs {y.tensor_type.name}")
    elif x.data.tobytes() != y.data.tobytes():
        bad.append(f"{n} ({x.tensor_type.name}): bytes differ")
    else:
        same += 1
fa, fb = fields(ra), fields(rb)
for k in sorted(fa.keys() | fb.keys()):
    if fa.get(k) != fb.get(k):
        bad.append(f"metadata {k} differs")
kinds = ", ".join(f"{c} {t}" for t, c in sorted(types.items()))
print(f"{name:44s} {same} of {len(ta)} tensors of equal type and bytes ({kinds}); {len(fa)} metadata keys")
for line in bad:
    print("    " + line)
sys.exit(1 if bad else 0)
