#!/usr/bin/env bash
# Builds and runs the container images (see scripts/containers/test.ts). Needs root for podman.
set -euo pipefail
cd "$(dirname "$0")/.."
exec npx tsx scripts/containers/test.ts "$@"
