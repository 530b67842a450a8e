// Package mmapfile maps a file read-only into memory: a shared mapping on
// unix, a plain read elsewhere. The safetensors and gguf readers view tensor
// data in place through it.
package mmapfile
