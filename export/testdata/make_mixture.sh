#!/bin/sh
# Writes mixture.json.gz: what llama.cpp's llama-quantize (no importance
# matrix) makes of the f32 GGUFs of export's TestMixtureMatchesLlamaQuantize
# models as Q4_0 and Q4_K_M: per model and file type, general.file_type and
# per tensor its name, type and the first 16 hex digits of the sha256 of
# its bytes.
#
#   sh make_mixture.sh [LLAMA_CPP_DIR]    (default /work/llama.cpp)
#
# LLAMA_CPP_DIR is a built llama.cpp tree (build/bin/llama-quantize:
# cmake --build build --target llama-quantize) with gguf-py; Debian's
# /usr/bin/python3 with python3-numpy reads the files. The Go test writes
# the f32 inputs (go test -mixture.inputs DIR): golora's f32 export is the
# converter's (TestModelMatchesConverter), and only llama-quantize chooses
# the types and bytes recorded here.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
llama=${1:-/work/llama.cpp}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$here/.." && go test -count=1 -run TestMixtureMatchesLlamaQuantize -mixture.inputs "$tmp" . >"$tmp/log" 2>&1) || { cat "$tmp/log"; exit 1; }
for f in "$tmp"/*.gguf; do
	for ft in Q4_0 Q4_K_M; do
		"$llama/build/bin/llama-quantize" "$f" "${f%.gguf}.$ft.out" "$ft" 1 >"$tmp/log" 2>&1 || { cat "$tmp/log"; exit 1; }
	done
done
PYTHONPATH="$llama/gguf-py" /usr/bin/python3 - "$tmp" "$here/mixture.json.gz" <<'PY'
import glob, gzip, hashlib, json, os, sys
from gguf import GGUFReader
tmp, out = sys.argv[1:3]
res = {}
for path in sorted(glob.glob(os.path.join(tmp, "*.out"))):
    name, ft = os.path.basename(path)[:-4].rsplit(".", 1)
    r = GGUFReader(path)
    f = r.fields["general.file_type"]
    tensors = [{"name": t.name, "type": t.tensor_type.name,
                "sha256": hashlib.sha256(t.data.tobytes()).hexdigest()[:16]} for t in r.tensors]
    res.setdefault(name, {})[ft] = {"file_type": int(f.parts[f.data[0]][0]), "tensors": tensors}
with gzip.GzipFile(out, "wb", mtime=0) as f:
    f.write(json.dumps(res, separators=(",", ":")).encode())
PY
git -C "$llama" log -1 --format='llama.cpp %H' 2>/dev/null || true
