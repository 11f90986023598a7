/*
 * Project-owned stand-in for miniaudio.h, used only by scripts/ollama.sh to
 * build github.com/ollama/ollama@v0.17.4 from the Go module proxy, whose zip
 * omits llama/llama.cpp/vendor/ (third-party headers). It declares exactly
 * what llama/llama.cpp/tools/mtmd/mtmd-helper.cpp uses; every decoder call
 * fails, so audio input is rejected and nothing else changes.
 */
#ifndef DEEPCONF_MINIAUDIO_STUB_H
#define DEEPCONF_MINIAUDIO_STUB_H

#include <stddef.h>

typedef unsigned long long ma_uint64;
typedef int ma_result;
#define MA_SUCCESS 0
#define MA_NOT_IMPLEMENTED (-29)
typedef enum { ma_format_unknown = 0, ma_format_f32 = 5 } ma_format;
typedef struct { ma_format format; unsigned int channels, sampleRate; } ma_decoder_config;
typedef struct { int unused; } ma_decoder;

static inline ma_decoder_config ma_decoder_config_init(ma_format f, unsigned int ch, unsigned int rate) {
    ma_decoder_config c = {f, ch, rate};
    return c;
}
static inline ma_result ma_decoder_init_memory(const void *d, size_t n, const ma_decoder_config *c, ma_decoder *dec) {
    (void)d; (void)n; (void)c; (void)dec;
    return MA_NOT_IMPLEMENTED;
}
static inline ma_result ma_decoder_get_length_in_pcm_frames(ma_decoder *dec, ma_uint64 *n) {
    (void)dec; *n = 0;
    return MA_NOT_IMPLEMENTED;
}
static inline ma_result ma_decoder_read_pcm_frames(ma_decoder *dec, void *out, ma_uint64 n, ma_uint64 *read) {
    (void)dec; (void)out; (void)n; if (read) *read = 0;
    return MA_NOT_IMPLEMENTED;
}
static inline ma_result ma_decoder_uninit(ma_decoder *dec) { (void)dec; return MA_SUCCESS; }

#endif
