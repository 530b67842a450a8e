#!/usr/bin/env bash
# Runs every fuzz target of the module one after another, each for SECONDS
# (default 300), and stops at the first failure. Go writes a failing input to
# the package's testdata/fuzz/FuzzX/ directory, where plain `go test` (and CI)
# replays it from then on. Further arguments restrict the run to targets
# given as package:FuzzX (for example ./model:FuzzParseConfig).
#
#	scripts/fuzz.sh            # 5 minutes per target
#	scripts/fuzz.sh 30         # a quick pass
#	scripts/fuzz.sh 600 ./chat:FuzzParse
#
# Each new input that widens coverage is minimized for at most 10 s (Go's
# default is 60 s, which takes most of the time of a target whose inputs
# each cost milliseconds, such as tokenizer's FuzzParse).
#
# GOMAXPROCS sets the number of fuzzing workers (go test -parallel defaults
# to it); on a shared machine run it as `nice -n 19 env GOMAXPROCS=1 ...`.
set -euo pipefail
cd "$(dirname "$0")/.."

secs=${1:-300}
shift || true

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
	# Every func FuzzX(f *testing.F) in a _test.go file, as package:FuzzX.
	while IFS=: read -r file _ line; do
		name=${line#func }
		name=${name%%(*}
		targets+=("./$(dirname "$file"):$name")
	done < <(grep -rn --include='*_test.go' '^func Fuzz[A-Za-z0-9_]*(f \*testing.F)' . | sed 's|^\./||' | sort)
fi

for t in "${targets[@]}"; do
	pkg=${t%%:*}
	name=${t#*:}
	echo "== $pkg $name (${secs}s)"
	CGO_ENABLED=0 go test -run='^$' -fuzz="^${name}\$" -fuzztime="${secs}s" -fuzzminimizetime=10s "$pkg"
done
