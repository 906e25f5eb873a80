/**
 * Finds the code that runs inside the sandbox. A built worker (`dist/`) ships it compiled by tsc
 * as `dist/sandbox/runtime/*.mjs` (`.mts` sources compile to `.mjs`, which Node loads as ESM
 * without a package.json — none is visible inside the sandbox). When the worker runs from
 * sources (tests, tsx), the runtime is bundled once with esbuild into a content-addressed
 * directory under the OS temp dir, shared by every process that needs the same sources.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface RuntimeEntry {
  /** Directory mounted read-only into the sandbox. */
  dir: string;
  /** File Node runs, inside `dir`. */
  file: string;
}

let cached: Promise<RuntimeEntry> | undefined;

export function locateRuntime(): Promise<RuntimeEntry> {
  cached ??= findOrBuild();
  return cached;
}

async function findOrBuild(): Promise<RuntimeEntry> {
  const runtimeDir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'runtime');
  const built = path.join(runtimeDir, 'main.mjs');
  if (fs.existsSync(built)) return { dir: runtimeDir, file: built };
  const sources = fs
    .readdirSync(runtimeDir)
    .filter((name) => name.endsWith('.mts'))
    .sort();
  if (!sources.includes('main.mts')) throw new Error(`sandbox runtime not found in ${runtimeDir}`);
  const hash = createHash('sha256');
  for (const name of sources) hash.update(name).update(fs.readFileSync(path.join(runtimeDir, name)));
  const outDir = path.join(os.tmpdir(), `ipa-sandbox-runtime-${hash.digest('hex').slice(0, 16)}`);
  const file = path.join(outDir, 'main.mjs');
  if (fs.existsSync(file)) return { dir: outDir, file };
  const { build } = await import('esbuild');
  const staging = `${outDir}.${process.pid}.${Date.now()}`;
  await build({
    entryPoints: [path.join(runtimeDir, 'main.mts')],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    outfile: path.join(staging, 'main.mjs'),
    logLevel: 'silent',
  });
  // Readable by the unprivileged uid a root worker runs sandboxes under.
  fs.chmodSync(staging, 0o755);
  fs.chmodSync(path.join(staging, 'main.mjs'), 0o644);
  try {
    fs.renameSync(staging, outDir);
  } catch {
    // Another process finished first: its copy is identical.
    fs.rmSync(staging, { recursive: true, force: true });
  }
  return { dir: outDir, file };
}
