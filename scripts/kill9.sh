#!/usr/bin/env bash
# kill9.sh [KILLS] — kills `golora train --save-every 1` with SIGKILL KILLS
# times (default 20) at random moments, resuming it after each, and checks
# that every adapter and checkpoint on disk loads after every kill and that
# the finished adapter equals an uninterrupted run's bit for bit
# (cmd/golora's TestKillNineResumes with $GOLORA_KILLS set). Prints the
# newest checkpoint after each kill.
set -euo pipefail
cd "$(dirname "$0")/.."
GOLORA_KILLS="${1:-20}" CGO_ENABLED=0 go test -count=1 -run '^TestKillNineResumes$' -v ./cmd/golora | grep -E 'kills|^(---|ok|FAIL)'
