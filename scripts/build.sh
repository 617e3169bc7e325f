#!/usr/bin/env bash
# Configures and builds kvmkit in build/ (or $1), after installing what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-deps.sh
dir=${1:-build}
shift || true
cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
cmake --build "$dir"
