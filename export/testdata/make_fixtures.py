#!/usr/bin/python3
"""Writes the fixtures of golora's LoRA GGUF export tests with llama.cpp's own
converter, convert_lora_to_gguf.py.

    LLAMA_CPP=/path/to/llama.cpp /usr/bin/python3 make_fixtures.py

Needs Debian's python3-torch (1.13) and python3-numpy; llama.cpp's source from
the node-llama-cpp 3.22.1 npm package (git clone llama/gitRelease.bundle).
The converter runs offline: transformers and tqdm, which it imports but does
not need for a local base config, are replaced by stand-ins, and torch 1.13
gets the float8 dtype names the converter's tables mention. The adapter goes
to the converter as adapter_model.bin (torch.save), since the safetensors
package is not installed.

Writes, next to this script:
  llama/config.json, qwen2/config.json  tiny base configs (GQA: 4 heads, 2 KV)
  adapter/                              a PEFT adapter (float32 safetensors,
                                        r = 4, alpha = 8, all seven linears of
                                        both layers, fixed values)
  llama_<type>.gguf, qwen2_f32.gguf     the converter's output for --outtype
                                        f32, f16, bf16, q8_0 (llama) and f32
                                        (qwen2: no Q/K permutation)
  models.json                           for five models of testdata/ref,
                                        convert_hf_to_gguf.py's metadata (but
                                        general.name and general.size_label)
                                        and tensors (name, type, shape, sha256
                                        of the data), the tokenizer left out
                                        (set_vocab does nothing)
"""
import hashlib
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
LLAMA_CPP = os.environ.get("LLAMA_CPP", "/tmp/llama.cpp")

HIDDEN, INTER, HEADS, KV_HEADS, LAYERS, R, ALPHA = 64, 96, 4, 2, 2, 4, 8
HEAD_DIM = HIDDEN // HEADS


def config(arch, model_type):
    return {
        "architectures": [arch], "model_type": model_type, "hidden_size": HIDDEN,
        "intermediate_size": INTER, "num_attention_heads": HEADS, "num_key_value_heads": KV_HEADS,
        "num_hidden_layers": LAYERS, "vocab_size": 32, "max_position_embeddings": 64,
        "rms_norm_eps": 1e-6, "rope_theta": 10000.0, "tie_word_embeddings": False,
        "torch_dtype": "float32", "bos_token_id": 1, "eos_token_id": 2,
    }


def wave(n, phase):
    return (np.sin(np.arange(n, dtype=np.float64) * 0.731 + phase) * 0.25).astype(np.float32)


def write_safetensors(path, tensors):
    header = {"__metadata__": {"format": "pt"}}
    blobs, off = [], 0
    for name in sorted(tensors):
        b = tensors[name].astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(tensors[name].shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


SHIM = '''
import os, runpy, sys, torch
for name in ("float8_e4m3fn", "float8_e5m2", "float8_e4m3fnuz", "float8_e5m2fnuz", "float8_e8m0fnu"):
    if not hasattr(torch, name):
        setattr(torch, name, torch.uint8)
for name in ("uint16", "uint32", "uint64"):
    if not hasattr(torch, name):
        setattr(torch, name, torch.int64)
if os.environ.get("NO_VOCAB"):
    import conversion.llama, conversion.qwen
    conversion.llama.LlamaModel.set_vocab = lambda self: None
    conversion.qwen.Qwen2Model.set_vocab = lambda self: None
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
'''
TRANSFORMERS = '''
class AutoConfig:
    @staticmethod
    def from_pretrained(*a, **k):
        raise OSError("offline stand-in")
class AutoTokenizer(AutoConfig):
    pass
'''
TQDM = '''
class tqdm:
    def __init__(self, *a, **k): pass
    def update(self, *a, **k): pass
    def set_description(self, *a, **k): pass
    def reset(self, *a, **k): pass
    def close(self): pass
'''


def converter(tmp):
    """Writes the stand-ins and the shim into tmp; returns the shim's path (run
    it with a converter script and its arguments) and the environment to run
    it in."""
    stubs = os.path.join(tmp, "stubs")
    for mod, src in (("transformers", TRANSFORMERS), ("tqdm", TQDM)):
        os.makedirs(os.path.join(stubs, mod))
        with open(os.path.join(stubs, mod, "__init__.py"), "w") as f:
            f.write(src)
    shim = os.path.join(tmp, "shim.py")
    with open(shim, "w") as f:
        f.write(SHIM)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([stubs, os.path.join(LLAMA_CPP, "gguf-py"), LLAMA_CPP]))
    return shim, env


def main():
    shapes = {  # module → (out, in)
        "self_attn.q_proj": (HEADS * HEAD_DIM, HIDDEN), "self_attn.k_proj": (KV_HEADS * HEAD_DIM, HIDDEN),
        "self_attn.v_proj": (KV_HEADS * HEAD_DIM, HIDDEN), "self_attn.o_proj": (HIDDEN, HEADS * HEAD_DIM),
        "mlp.gate_proj": (INTER, HIDDEN), "mlp.up_proj": (INTER, HIDDEN), "mlp.down_proj": (HIDDEN, INTER),
    }
    tensors, k = {}, 0
    for layer in range(LAYERS):
        for mod, (out, inp) in shapes.items():
            pre = f"base_model.model.model.layers.{layer}.{mod}"
            tensors[pre + ".lora_A.weight"] = wave(R * inp, k).reshape(R, inp)
            tensors[pre + ".lora_B.weight"] = wave(out * R, k + 0.5).reshape(out, R)
            k += 1
    adapter = os.path.join(HERE, "adapter")
    os.makedirs(adapter, exist_ok=True)
    write_safetensors(os.path.join(adapter, "adapter_model.safetensors"), tensors)
    with open(os.path.join(adapter, "adapter_config.json"), "w") as f:
        json.dump({"peft_type": "LORA", "r": R, "lora_alpha": ALPHA, "lora_dropout": 0.0, "bias": "none",
                   "target_modules": sorted(m.split(".")[1] for m in shapes), "use_rslora": False,
                   "task_type": "CAUSAL_LM", "base_model_name_or_path": "golora-test/tiny"}, f, indent=2, sort_keys=True)
        f.write("\n")
    for name, arch, mt in (("llama", "LlamaForCausalLM", "llama"), ("qwen2", "Qwen2ForCausalLM", "qwen2")):
        os.makedirs(os.path.join(HERE, name), exist_ok=True)
        with open(os.path.join(HERE, name, "config.json"), "w") as f:
            json.dump(config(arch, mt), f, indent=2, sort_keys=True)
            f.write("\n")

    with tempfile.TemporaryDirectory() as tmp:
        shim, env = converter(tmp)
        bin_adapter = os.path.join(tmp, "adapter")
        os.makedirs(bin_adapter)
        shutil.copy(os.path.join(adapter, "adapter_config.json"), bin_adapter)
        # In name order, as safetensors.torch.load_file hands them to the converter.
        torch.save({n: torch.from_numpy(tensors[n].copy()) for n in sorted(tensors)}, os.path.join(bin_adapter, "adapter_model.bin"))
        for base, outtype in (("llama", "f32"), ("llama", "f16"), ("llama", "bf16"), ("llama", "q8_0"), ("qwen2", "f32")):
            out = os.path.join(HERE, f"{base}_{outtype}.gguf")
            subprocess.run([sys.executable, shim, os.path.join(LLAMA_CPP, "convert_lora_to_gguf.py"),
                            "--base", os.path.join(HERE, base), "--outtype", outtype, "--outfile", out, bin_adapter],
                           env=env, check=True, capture_output=True)
            print("wrote", out)

        sys.path.insert(0, os.path.join(LLAMA_CPP, "gguf-py"))
        import gguf
        models = {}
        ref = os.path.join(HERE, "..", "..", "testdata", "ref")
        for name, outtype in (("llama_f32", "f32"), ("qwen2_f32_bias", "q8_0"), ("mistral_f16_headdim", "f16"),
                              ("llama_bf16_tied", "bf16"), ("llama3_rope", "f32")):
            out = os.path.join(tmp, name + ".gguf")
            subprocess.run([sys.executable, shim, os.path.join(LLAMA_CPP, "convert_hf_to_gguf.py"),
                            "--outtype", outtype, "--outfile", out, os.path.join(ref, name)],
                           env=dict(env, NO_VOCAB="1"), check=True, capture_output=True)
            r = gguf.GGUFReader(out)
            meta = []
            for key, field in r.fields.items():
                if key.startswith("GGUF.") or key in ("general.name", "general.size_label"):
                    continue
                meta.append({"key": key, "type": field.types[0].name, "value": field.contents()})
            tensors = [{"name": t.name, "type": t.tensor_type.name, "shape": [int(x) for x in reversed(t.shape)],
                        "sha256": hashlib.sha256(t.data.tobytes()).hexdigest()} for t in r.tensors]
            models[name] = {"outtype": outtype, "meta": meta, "tensors": tensors}
        with open(os.path.join(HERE, "models.json"), "w") as f:
            json.dump(models, f, indent=1, sort_keys=True)
            f.write("\n")


if __name__ == "__main__":
    main()
