#!/bin/sh
# Removes from a pruned production install what Node never loads at run time, so the API and
# worker images carry code, not packaging. Run in the Dockerfiles' production-dependency stage,
# before check-imports.mjs proves that every import of dist still resolves and loads.
set -eu
trees="node_modules backend/node_modules"
# TypeScript stays after the prune (the lock marks it devOptional, an optional peer of a frontend
# dependency); the runtime never needs it, nor npm's cache.
rm -rf node_modules/.cache node_modules/typescript
# Type declarations, TypeScript sources, source maps and docs.
find $trees -type f \( -name '*.ts' -o -name '*.mts' -o -name '*.cts' -o -name '*.map' \
  -o -name '*.md' -o -name '*.markdown' \) -delete
# A package's own tests, examples and docs (folders beside its package.json only).
find $trees -type d \( -name test -o -name tests -o -name __tests__ -o -name example \
  -o -name examples -o -name docs \) | while read -r dir; do
  if [ -f "$(dirname "$dir")/package.json" ]; then rm -rf "$dir"; fi
done
# Builds for browsers and React Native: Node never picks those export conditions.
find $trees -type d \( -path '*/dist/browser' -o -path '*/dist/react-native' \) -prune -exec rm -rf {} +
# esbuild's install step copies its platform binary into esbuild/bin for the CLI; the JavaScript
# API runs the one in @esbuild/<platform>, so the copy goes when that package is there.
find $trees -type f -path '*/esbuild/bin/esbuild' | while read -r bin; do
  package=$(dirname "$(dirname "$bin")")
  if node -e "require.resolve('@esbuild/linux-' + process.arch + '/bin/esbuild', { paths: [process.argv[1]] })" "$package" 2>/dev/null; then
    rm -f "$bin"
  fi
done
