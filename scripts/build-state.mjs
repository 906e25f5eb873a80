/**
 * Whether a part's build output is current: a hash of its inputs (file contents, not mtimes, so a
 * checkout or copy that touches every file does not force a rebuild, and an edit always does) is
 * stored beside the output after each successful build.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';

const skipped = new Set(['node_modules', 'dist', '.cache', 'data']);

function listFiles(root, path, out) {
  if (!existsSync(path)) return;
  if (statSync(path).isFile()) {
    out.push(relative(root, path));
    return;
  }
  for (const entry of readdirSync(path, { withFileTypes: true })) {
    if (skipped.has(entry.name)) continue;
    listFiles(root, join(path, entry.name), out);
  }
}

/** sha256 over the sorted relative paths and contents of `inputs` (files or folders). */
export function hashInputs(root, inputs) {
  const files = [];
  for (const input of inputs) listFiles(root, join(root, input), files);
  files.sort();
  const hash = createHash('sha256');
  for (const file of files) {
    hash
      .update(file)
      .update('\0')
      .update(readFileSync(join(root, file)))
      .update('\0');
  }
  return hash.digest('hex');
}

/** The parts `npm start` needs: what each is built from, what it produces, how it is built. */
export const parts = [
  {
    name: 'backend',
    inputs: ['backend/src', 'backend/package.json', 'backend/tsconfig.build.json', 'tsconfig.base.json'],
    output: 'backend/dist/main.js',
    stamp: 'backend/dist/.inputs-hash',
    build: ['run', 'build', '-w', 'backend'],
  },
  {
    name: 'frontend',
    inputs: [
      'frontend/src',
      'frontend/index.html',
      'frontend/package.json',
      'frontend/vite.config.ts',
      'frontend/precompress.ts',
      'frontend/tsconfig.json',
      'package-lock.json',
    ],
    output: 'frontend/dist/index.html',
    stamp: 'frontend/dist/.inputs-hash',
    build: ['run', 'build', '-w', 'frontend'],
  },
];

/** True when the part's output exists and was built from exactly the current inputs. */
export function isCurrent(root, part) {
  if (!existsSync(join(root, part.output)) || !existsSync(join(root, part.stamp))) return false;
  return readFileSync(join(root, part.stamp), 'utf8').trim() === hashInputs(root, part.inputs);
}

export function markBuilt(root, part, hash) {
  writeFileSync(join(root, part.stamp), `${hash}\n`);
}
