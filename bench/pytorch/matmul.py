#!/usr/bin/python3
"""Time float32 torch.matmul C = op(A)·op(B) at a given thread count.

op(A) is m×k and op(B) is k×n, as in `golora bench gemm`; a transposed
operand is stored the other way round and passed as a view (a.t()), not a
copy, so BLAS sees the transpose flag. Prints one JSON object.
"""
import argparse
import json
import os
import time


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--m", type=int, default=1024)
    p.add_argument("--n", type=int, default=1536)
    p.add_argument("--k", type=int, default=576)
    p.add_argument("--trans", default="nn", choices=["nn", "nt", "tn", "tt"])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seconds", type=float, default=1.0, help="timed duration")
    a = p.parse_args()
    # Before torch is imported, so that OpenMP and any OpenBLAS start with it.
    os.environ.setdefault("OMP_NUM_THREADS", str(a.threads))
    os.environ.setdefault("OPENBLAS_NUM_THREADS", str(a.threads))
    import torch

    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    ta, tb = a.trans[0] == "t", a.trans[1] == "t"
    A = (torch.rand(a.k, a.m) - 0.5).t() if ta else torch.rand(a.m, a.k) - 0.5
    B = (torch.rand(a.n, a.k) - 0.5).t() if tb else torch.rand(a.k, a.n) - 0.5
    assert A.is_contiguous() != ta and B.is_contiguous() != tb
    C = torch.empty(a.m, a.n)

    with torch.no_grad():
        for _ in range(3):  # warm-up
            torch.matmul(A, B, out=C)
        calls = 0
        start, cpu0 = time.perf_counter(), time.process_time()
        while True:
            torch.matmul(A, B, out=C)
            calls += 1
            el = time.perf_counter() - start
            if el >= a.seconds and calls >= 3:
                break
        cpu = (time.process_time() - cpu0) / calls / torch.get_num_threads()
    sec = el / calls
    print(json.dumps({
        "m": a.m, "n": a.n, "k": a.k, "trans": a.trans,
        "threads": torch.get_num_threads(),
        "gflops": 2.0 * a.m * a.n * a.k / sec / 1e9,
        # over the process's CPU time / threads, as golora bench gemm's cpu_gflops
        "cpu_gflops": 2.0 * a.m * a.n * a.k / cpu / 1e9 if cpu > 0 else 0.0,
        "seconds_per_call": sec, "calls": calls,
        "torch_version": torch.__version__, "blas": blas_library(),
    }))


def blas_library():
    """The BLAS shared object torch loaded (torch 1.13 from Debian calls
    whatever libblas.so.3 resolves to)."""
    try:
        with open("/proc/self/maps") as f:
            libs = {line.split()[-1] for line in f if "blas" in line.lower() or "mkl" in line.lower()}
        return ",".join(sorted(l for l in libs if l.startswith("/")))
    except OSError:
        return ""


if __name__ == "__main__":
    main()
