// make_kquant writes kquant.bin: deterministic float rows and their
// quantization by ggml's own ggml_quantize_chunk (no importance matrix, so
// ggml's reference quantizers quantize_row_*_ref, as llama-quantize uses
// them) as Q4_0, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K and Q6_K. make_kquant.sh builds and
// runs it against llama.cpp's libggml-base.
//
// Two sets of rows: NROWS rows of hard cases (fill), stored with their
// quantizations, and NBULK rows of scaled pseudo-normal values (bulk), too
// many to store: the Go test regenerates them with the same generator and
// compares FNV-1a 64 hashes of the values and of each quantization.
//
// kquant.bin (little-endian):
//   "GQK2", uint32 nrows, uint32 ncols, float32 src[nrows*ncols] (row-major),
//   uint32 nbulk, uint64 fnv(bulk values),
//   then per type: uint32 ggml type, uint32 nbytes, the nbytes quantized
//   bytes of the hard rows, uint64 fnv(the bulk rows' quantized bytes).
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ggml.h"

#define NROWS 16
#define NCOLS 512
#define NBULK 2048

static uint32_t rng = 12345;

// uniform is an LCG's value in [0, 1).
static float uniform(void) {
    rng = rng * 1103515245u + 12345u;
    return (float)((rng >> 8) & 0xffffff) / 16777216.0f;
}

// normal is a sum of four uniforms, centred and scaled to about unit
// variance (one statement per call: C leaves the order of a + b's calls open).
static float normal(void) {
    float s = uniform();
    s += uniform();
    s += uniform();
    s += uniform();
    return (s - 2.0f) * 1.7320508f;
}

// bulk writes bulk row r: normal values scaled by 2^(r%13 − 9), every third
// row shifted by 0.3 of that scale, every fifth with an outlier of 8 times
// it at each 97th element.
static void bulk(int r, float * x) {
    const float s = ldexpf(1.0f, r % 13 - 9);
    for (int i = 0; i < NCOLS; i++) {
        float v = normal() * s;
        if (r % 3 == 0) {
            v += 0.3f * s;
        }
        if (r % 5 == 0 && i % 97 == 0) {
            v += 8.0f * s;
        }
        x[i] = v;
    }
}

// fnv is FNV-1a 64 of n bytes.
static uint64_t fnv(const void * p, size_t n) {
    uint64_t h = 14695981039346656037ull;
    for (size_t i = 0; i < n; i++) {
        h = (h ^ ((const uint8_t *)p)[i]) * 1099511628211ull;
    }
    return h;
}

// fill writes row r: one hard case per row (see the comments).
static void fill(int r, float * x) {
    for (int i = 0; i < NCOLS; i++) {
        float v = 0;
        switch (r) {
        case 0: v = 0.02f * normal(); break;                                  // weight-like
        case 1: v = 0; break;                                                 // all zero
        case 2: v = i < 256 ? 0.5f : -3.0f; break;                            // constant blocks
        case 3: v = (i % 2 ? -1 : 1) * 1e4f * (0.5f + uniform()); break;      // ±large
        case 4: v = (i < 256 ? 1e-20f : 1e-10f) * normal(); break;            // tiny (below and above ggml's GROUP_MAX_EPS)
        case 5: v = 0.1f * normal() + (i % 32 == 7 ? 50.0f : 0); break;       // an outlier per 32-block
        case 6: v = 0.1f + 0.9f * uniform(); break;                           // all positive
        case 7: v = -0.1f - 0.9f * uniform(); break;                          // all negative
        case 8: v = i % 37 == 0 ? normal() : 0; break;                        // sparse
        case 9: v = ldexpf(normal(), (i / 16) % 9 - 6) * ((i / 16) % 5 != 3); break; // group scales 2^-6..2^2, some groups zero
        case 10: v = 0.25f * (float)(i % 16 - 8); break;                      // values on rounding boundaries
        case 11: v = (i % 64 < 32 ? 1 : -1) * 0.5f * uniform(); break;        // sign runs
        case 12: v = i % 256 == 0 ? -1.0f : 0.001f * normal(); break;         // one negative spike per super-block
        case 13: v = i % 2 ? 65504.0f : -65504.0f * uniform(); break;         // the F16 range's edge
        case 14: v = 1.0f + 1e-6f * normal(); break;                          // nearly constant
        default: v = normal(); v = 3.0f * v * normal(); break;                // heavy-tailed
        }
        x[i] = v;
    }
}

int main(int argc, char ** argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: make_kquant OUT\n");
        return 2;
    }
    static float src[NROWS * NCOLS], big[NBULK * NCOLS];
    for (int r = 0; r < NROWS; r++) {
        fill(r, src + r * NCOLS);
    }
    rng = 777; // the bulk rows start from a seed of their own
    for (int r = 0; r < NBULK; r++) {
        bulk(r, big + r * NCOLS);
    }
    FILE * f = fopen(argv[1], "wb");
    if (!f) {
        perror(argv[1]);
        return 1;
    }
    uint32_t hdr[2] = {NROWS, NCOLS};
    fwrite("GQK2", 1, 4, f);
    fwrite(hdr, 4, 2, f);
    fwrite(src, 4, NROWS * NCOLS, f);
    uint32_t nbulk = NBULK;
    uint64_t hbulk = fnv(big, sizeof(big));
    fwrite(&nbulk, 4, 1, f);
    fwrite(&hbulk, 8, 1, f);
    const enum ggml_type types[] = {GGML_TYPE_Q4_0, GGML_TYPE_Q5_0, GGML_TYPE_Q5_1, GGML_TYPE_Q8_0, GGML_TYPE_Q4_K, GGML_TYPE_Q5_K, GGML_TYPE_Q6_K};
    for (size_t t = 0; t < sizeof(types) / sizeof(types[0]); t++) {
        size_t n = ggml_row_size(types[t], NCOLS) * NROWS;
        void * dst = calloc(1, n);
        size_t got = ggml_quantize_chunk(types[t], src, dst, 0, NROWS, NCOLS, NULL);
        if (got != n) {
            fprintf(stderr, "%s: %zu bytes, want %zu\n", ggml_type_name(types[t]), got, n);
            return 1;
        }
        uint32_t th[2] = {(uint32_t)types[t], (uint32_t)n};
        fwrite(th, 4, 2, f);
        fwrite(dst, 1, n, f);
        free(dst);
        size_t nb = ggml_row_size(types[t], NCOLS) * NBULK;
        void * qb = calloc(1, nb);
        ggml_quantize_chunk(types[t], big, qb, 0, NBULK, NCOLS, NULL);
        uint64_t h = fnv(qb, nb);
        fwrite(&h, 8, 1, f);
        free(qb);
    }
    return fclose(f) != 0;
}
