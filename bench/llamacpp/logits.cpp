// logits: runs a GGUF model in llama.cpp on one sequence of token ids and
// prints {"logits": [[...], ...]}, one row of vocabulary logits per
// position, as `golora logits` does, so that compare.sh can set the two side
// by side.
//
//   logits MODEL.gguf [--lora ADAPTER.gguf [--scale S]] ID...
//
// The KV cache is f32 and flash attention off, so that nothing is rounded to
// f16 on the way (llama.cpp's defaults would). Built by compare.sh against
// the libllama of a llama.cpp build tree.
#include "llama.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

static void quiet(enum ggml_log_level level, const char * text, void *) {
    if (level >= GGML_LOG_LEVEL_ERROR) {
        fputs(text, stderr);
    }
}

int main(int argc, char ** argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s MODEL.gguf [--lora ADAPTER.gguf [--scale S]] ID...\n", argv[0]);
        return 2;
    }
    const char * path = argv[1];
    const char * lora = nullptr;
    float scale = 1.0f;
    std::vector<llama_token> ids;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--lora") == 0 && i + 1 < argc) {
            lora = argv[++i];
        } else if (strcmp(argv[i], "--scale") == 0 && i + 1 < argc) {
            scale = strtof(argv[++i], nullptr);
        } else {
            ids.push_back((llama_token) atoi(argv[i]));
        }
    }
    if (ids.empty()) {
        fprintf(stderr, "no token ids\n");
        return 2;
    }
    llama_log_set(quiet, nullptr);
    llama_backend_init();
    llama_model_params mp = llama_model_default_params();
    mp.n_gpu_layers = 0;
    // No extra buffer types: quantized weights are neither repacked nor put
    // in AMX tiles (AMX instructions fault, SIGILL, where the process has
    // not been granted AMX state); the CPU backend's plain dot products.
    mp.use_extra_bufts = false;
    mp.progress_callback = [](float, void *) { return true; }; // no progress dots
    llama_model * model = llama_model_load_from_file(path, mp);
    if (!model) {
        fprintf(stderr, "%s: cannot load the model\n", path);
        return 1;
    }
    llama_context_params cp = llama_context_default_params();
    cp.n_ctx = ids.size() < 64 ? 64 : ids.size();
    cp.n_batch = cp.n_ctx;
    cp.n_ubatch = cp.n_ctx;
    cp.n_threads = 1;
    cp.n_threads_batch = 1;
    cp.type_k = GGML_TYPE_F32;
    cp.type_v = GGML_TYPE_F32;
    cp.flash_attn_type = LLAMA_FLASH_ATTN_TYPE_DISABLED;
    llama_context * ctx = llama_init_from_model(model, cp);
    if (!ctx) {
        fprintf(stderr, "%s: cannot make a context\n", path);
        return 1;
    }
    if (lora) {
        llama_adapter_lora * a = llama_adapter_lora_init(model, lora);
        if (!a) {
            fprintf(stderr, "%s: cannot load the adapter\n", lora);
            return 1;
        }
        if (llama_set_adapters_lora(ctx, &a, 1, &scale) != 0) {
            fprintf(stderr, "%s: cannot apply the adapter\n", lora);
            return 1;
        }
    }
    llama_batch batch = llama_batch_init((int32_t) ids.size(), 0, 1);
    for (size_t i = 0; i < ids.size(); i++) {
        batch.token[i] = ids[i];
        batch.pos[i] = (llama_pos) i;
        batch.n_seq_id[i] = 1;
        batch.seq_id[i][0] = 0;
        batch.logits[i] = 1;
    }
    batch.n_tokens = (int32_t) ids.size();
    if (llama_decode(ctx, batch) != 0) {
        fprintf(stderr, "%s: llama_decode failed\n", path);
        return 1;
    }
    const int n_vocab = llama_vocab_n_tokens(llama_model_get_vocab(model));
    printf("{\"logits\": [");
    for (size_t i = 0; i < ids.size(); i++) {
        const float * row = llama_get_logits_ith(ctx, (int32_t) i);
        printf(i ? ",\n[" : "[");
        for (int j = 0; j < n_vocab; j++) {
            printf(j ? ",%.9g" : "%.9g", row[j]);
        }
        printf("]");
    }
    printf("]}\n");
    llama_batch_free(batch);
    llama_free(ctx);
    llama_model_free(model);
    llama_backend_free();
    return 0;
}
