// Checks that an image carries exactly what its backend/dist imports at run time. Run inside the
// image with this file mounted into the dist folder, so packages resolve as dist's own modules do:
//   podman run --rm -v ./scripts/containers/check-imports.mjs:/app/backend/dist/check-imports.mjs:ro \
//     --entrypoint node IMAGE /app/backend/dist/check-imports.mjs
// 1. every package specifier in dist (static and dynamic imports) resolves and loads;
// 2. every package installed under /app is needed: reachable from those imports through the
//    dependencies, optionalDependencies and peerDependencies of the packages on the way.
// Prints one JSON line {files, packages, unresolved, unneeded} and exits 1 when either list is not empty.
// With --prune (the Dockerfiles' production-dependency stage) it deletes the unneeded packages
// instead, so the image carries exactly the closure of dist's imports; unresolved still fails.
import { existsSync, readdirSync, readFileSync, realpathSync, rmSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const dist = dirname(fileURLToPath(import.meta.url));
const app = dirname(dirname(dist));
const self = fileURLToPath(import.meta.url);

function* files(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* files(path);
    else if (/\.(m|c)?js$/.test(entry.name) && path !== self) yield path;
  }
}

const importPattern = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+|\brequire\s*\(\s*)(['"])([^'"\n]+)\1/g;
const builtins = new Set(builtinModules);
const packageName = (specifier) =>
  specifier.startsWith('@') ? specifier.split('/').slice(0, 2).join('/') : specifier.split('/')[0];

const specifiers = new Set();
let fileCount = 0;
for (const file of files(dist)) {
  fileCount += 1;
  for (const match of readFileSync(file, 'utf8').matchAll(importPattern)) {
    const specifier = match[2];
    if (specifier.startsWith('.') || specifier.startsWith('/') || specifier.startsWith('node:')) continue;
    if (builtins.has(specifier) || builtins.has(packageName(specifier))) continue;
    specifiers.add(specifier);
  }
}

/** The installed directory of a package as Node would find it from `from` (a directory). */
function locate(name, from) {
  for (let dir = from; ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return realpathSync(candidate);
    if (dir === dirname(dir)) return undefined;
  }
}

const unresolved = [];
const needed = new Set();
const queue = [];
for (const specifier of [...specifiers].sort()) {
  try {
    import.meta.resolve(specifier);
    await import(specifier);
  } catch (error) {
    unresolved.push(`${specifier}: ${error.message.split('\n')[0]}`);
    continue;
  }
  const dir = locate(packageName(specifier), dist);
  if (dir) queue.push(dir);
}
while (queue.length > 0) {
  const dir = queue.pop();
  if (needed.has(dir)) continue;
  needed.add(dir);
  const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  for (const field of ['dependencies', 'optionalDependencies', 'peerDependencies']) {
    for (const name of Object.keys(manifest[field] ?? {})) {
      const found = locate(name, dir);
      if (found) queue.push(found);
    }
  }
}

/** Every installed package directory under a node_modules folder, nested ones included. */
function* installed(modules) {
  if (!existsSync(modules)) return;
  for (const entry of readdirSync(modules)) {
    if (entry.startsWith('.')) continue;
    const path = join(modules, entry);
    if (!statSync(path).isDirectory()) continue;
    const dirs = entry.startsWith('@') ? readdirSync(path).map((name) => join(path, name)) : [path];
    for (const dir of dirs) {
      if (!existsSync(join(dir, 'package.json'))) continue;
      // a workspace link (node_modules/@ipa/backend → backend) is the app itself, not a dependency
      if (!realpathSync(dir).includes('/node_modules/')) continue;
      yield realpathSync(dir);
      yield* installed(join(dir, 'node_modules'));
    }
  }
}

const unneeded = [];
for (const modules of [join(app, 'node_modules'), join(app, 'backend', 'node_modules')]) {
  for (const dir of installed(modules)) if (!needed.has(dir)) unneeded.push(dir.slice(app.length + 1));
}

const prune = process.argv.includes('--prune');
if (prune) for (const dir of unneeded) rmSync(join(app, dir), { recursive: true, force: true });
console.log(
  JSON.stringify({
    files: fileCount,
    packages: [...specifiers].sort(),
    unresolved,
    [prune ? 'pruned' : 'unneeded']: unneeded.sort(),
  }),
);
process.exit(unresolved.length === 0 && (prune || unneeded.length === 0) ? 0 : 1);
