package testmodel

import (
	"context"
	"fmt"
	"io"
	"sync"

	"github.com/deepconf/deepconf/internal/nativelib"
	"github.com/hybridgroup/yzma/pkg/llama"
)

// llamaState records whether this package has loaded yzma's llama.cpp
// bindings. yzma keeps the loaded library in package-level state of its
// own, so loading is a per-process event; this is the only package-level
// mutable state of testmodel.
var llamaState struct {
	sync.Mutex
	loaded bool
}

// LoadLlama loads the pinned llama.cpp CPU libraries into the process, for
// yzma's llama package: it installs them with nativelib.LlamaLibDir if
// needed, then calls llama.Load and llama.Init. Only the first successful
// call does this; later calls return nil at once. A failed call can be
// retried.
//
// yzma's library state is global to the process: code that loads it in
// another way should not also call LoadLlama, and should set
// Options.LlamaLoaded when it generates quantized models.
func LoadLlama(ctx context.Context, log io.Writer) error {
	llamaState.Lock()
	defer llamaState.Unlock()
	if llamaState.loaded {
		return nil
	}
	if log == nil {
		log = io.Discard
	}
	dir, err := nativelib.LlamaLibDir(ctx, nativelib.CPU, log)
	if err != nil {
		return err
	}
	if err := llama.Load(dir); err != nil {
		return fmt.Errorf("load llama.cpp from %s: %w", dir, err)
	}
	// The quantizer's ~60 lines of loader output are noise here; its
	// failures come back as errors.
	llama.LogSet(llama.LogSilent())
	llama.Init()
	llamaState.loaded = true
	return nil
}

// Quantize converts the GGUF model in (F32 or F16) to the quantized type q
// (QuantQ8_0 or QuantQ4_K_M) with llama.cpp's llama_model_quantize, writing
// out. threads ≤ 0 lets llama.cpp choose. Tensors whose rows are not whole
// quantization blocks fall back to other types as llama.cpp decides. yzma
// must be loaded (LoadLlama, or the caller's own llama.Load).
func Quantize(in, out string, q Quant, threads int) error {
	var ft llama.Ftype
	switch q {
	case QuantQ8_0:
		ft = llama.FtypeMostlyQ8_0
	case QuantQ4_K_M:
		ft = llama.FtypeMostlyQ4_K_M
	default:
		return fmt.Errorf("quantize %s: type %q: want %s or %s", in, q, QuantQ8_0, QuantQ4_K_M)
	}
	p := llama.ModelQuantizeDefaultParams()
	p.Ftype = ft
	if threads > 0 {
		p.NThread = int32(threads)
	}
	if rc := llama.ModelQuantize(in, out, &p); rc != 0 {
		return fmt.Errorf("quantize %s to %s: llama_model_quantize failed (code %d; llama.cpp's log says why)", in, q, rc)
	}
	return nil
}
