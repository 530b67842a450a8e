# Makes index_python.json: a shard index rendered by Python's json module the
# way transformers' save_pretrained renders model.safetensors.index.json
# (json.dumps(index, indent=2, sort_keys=True) + "\n"). Names exercise
# sorting and ensure_ascii escaping. Run: python3 make_index_fixture.py
import json

index = {
    "metadata": {"total_size": 52},
    "weight_map": {
        "b.weight": "model-00001-of-00003.safetensors",
        "a.bias": "model-00002-of-00003.safetensors",
        "c.\u00e9\"x\u00a0\U0001F600\x7f\t": "model-00003-of-00003.safetensors",
    },
}
with open("index_python.json", "w", newline="") as f:
    f.write(json.dumps(index, indent=2, sort_keys=True) + "\n")
