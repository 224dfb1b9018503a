// llama-icount: the smallest llama.cpp workload for counting instructions (scripts/arm-icount.sh).
//
// Usage: llama-icount MODEL.gguf pp P    evaluate P tokens in one batch, twice
//        llama-icount MODEL.gguf tg N    generate 1 token (warm-up), then N tokens one at a time
//
// Mirrors `edgellm bench -t 1 -r 1`: one thread, one warm-up pass (the whole prompt for pp,
// one token for tg, as llama-bench and edgellm bench do) and one measured pass, each from an
// empty cache, on fixed pseudo-random token ids (BOS first when the model adds one). No
// sampling, no timing: the caller counts instructions and takes differences between lengths.
// Written against the public llama.h API only.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llama.h"

static void quiet(enum ggml_log_level level, const char *text, void *data) {
    (void)data;
    if (level == GGML_LOG_LEVEL_ERROR) fputs(text, stderr);
}

// n fixed ids from a xorshift64* generator (the same sequence as edgellm bench).
static void fixed_tokens(llama_token *ids, int n, int vocab, llama_token bos, int add_bos) {
    unsigned long long s = 0x9E3779B97F4A7C15ULL;
    for (int i = 0; i < n; i++) {
        s ^= s >> 12;
        s ^= s << 25;
        s ^= s >> 27;
        ids[i] = (llama_token)((s * 0x2545F4914F6CDD1DULL) % (unsigned long long)vocab);
    }
    if (n > 0 && add_bos) ids[0] = bos;
}

static void must_decode(struct llama_context *ctx, llama_token *ids, int n) {
    int rc = llama_decode(ctx, llama_batch_get_one(ids, n));
    if (rc != 0) {
        fprintf(stderr, "llama_decode failed: %d\n", rc);
        exit(1);
    }
}

int main(int argc, char **argv) {
    if (argc != 4 || (strcmp(argv[2], "pp") != 0 && strcmp(argv[2], "tg") != 0)) {
        fprintf(stderr, "usage: %s MODEL.gguf pp|tg N\n", argv[0]);
        return 2;
    }
    const int prompt = strcmp(argv[2], "pp") == 0;
    const int n = atoi(argv[3]);
    if (n < 1) {
        fprintf(stderr, "N must be at least 1\n");
        return 2;
    }

    llama_log_set(quiet, NULL);
    llama_backend_init();

    struct llama_model_params mp = llama_model_default_params();
    struct llama_model *model = llama_model_load_from_file(argv[1], mp);
    if (!model) {
        fprintf(stderr, "cannot load %s\n", argv[1]);
        return 1;
    }

    // The cache holds exactly the test's tokens (llama-bench's n_ctx = n_prompt + n_gen).
    struct llama_context_params cp = llama_context_default_params();
    cp.n_ctx = (uint32_t)n;
    cp.n_batch = (uint32_t)n;
    cp.n_ubatch = (uint32_t)n;
    cp.n_threads = 1;
    cp.n_threads_batch = 1;
    cp.no_perf = true;
    struct llama_context *ctx = llama_init_from_model(model, cp);
    if (!ctx) {
        fprintf(stderr, "cannot create a context\n");
        return 1;
    }

    const struct llama_vocab *vocab = llama_model_get_vocab(model);
    llama_token *ids = malloc(sizeof(llama_token) * (size_t)n);
    fixed_tokens(ids, n, llama_vocab_n_tokens(vocab), llama_vocab_bos(vocab),
                 llama_vocab_get_add_bos(vocab));

    // Warm-up pass, then the measured pass, each from an empty cache.
    for (int pass = 0; pass < 2; pass++) {
        llama_memory_clear(llama_get_memory(ctx), true);
        if (prompt) {
            must_decode(ctx, ids, n);
        } else {
            const int steps = pass == 0 ? 1 : n;
            for (int i = 0; i < steps; i++) must_decode(ctx, &ids[i], 1);
        }
    }

    printf("%s%d done\n", argv[2], n);
    free(ids);
    llama_free(ctx);
    llama_model_free(model);
    llama_backend_free();
    return 0;
}
