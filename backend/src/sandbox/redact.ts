/**
 * One redaction for every text that leaves the sandbox layer towards a user (output, script
 * errors, SandboxError messages): host paths — the user's own directory, the sandboxes' root,
 * the data directory, the runtime and the installation — become neutral names, so no message
 * tells a user where the host keeps other users' files or the platform's code.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { insideRuntimeDir, insideUserDir } from './isolation.js';

export type Redact = (text: string) => string;

/** The checkout or image directory this code runs from (…/backend/{src,dist}/sandbox → …). */
export const installDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

function variants(dir: string): string[] {
  const found = new Set([path.resolve(dir)]);
  try {
    found.add(fs.realpathSync(dir));
  } catch {
    // not there (yet): the plain path is enough
  }
  return [...found].filter((p) => p !== '/' && p.length > 1);
}

export interface HostPaths {
  /** The sandboxes' root (`SANDBOX_ROOT`). */
  root: string;
  /** The runtime directory mounted into sandboxes. */
  runtimeDir: string;
  /** `DATA_DIR`, when the caller knows it. */
  dataDir?: string;
}

/** A redactor for one user: their directory reads as the sandbox's own view of it. */
export function hostPathRedactor(paths: HostPaths, userDir?: string): Redact {
  const pairs: Array<[string, string]> = [];
  if (userDir) for (const p of variants(userDir)) pairs.push([p, insideUserDir]);
  for (const p of variants(paths.runtimeDir)) pairs.push([p, insideRuntimeDir]);
  for (const p of variants(paths.root)) pairs.push([p, '<sandboxes>']);
  if (paths.dataDir) for (const p of variants(paths.dataDir)) pairs.push([p, '<data>']);
  for (const p of variants(installDir)) pairs.push([p, '<install>']);
  // Longest first: a user's directory lies inside the root, the root inside the data directory.
  pairs.sort((a, b) => b[0].length - a[0].length);
  if (pairs.length === 0) return (text) => text;
  // A path matches whole: `/app` is not redacted inside `/apple`.
  const literal = (p: string) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const pattern = new RegExp(
    `(${pairs.map(([from]) => literal(from)).join('|')})(?![^/\\s:'"\`),;\\]>])`,
    'g',
  );
  const names = new Map(pairs);
  return (text) => {
    if (typeof text !== 'string' || text.indexOf('/') === -1) return text;
    return text.replace(pattern, (match) => names.get(match) ?? match);
  };
}
