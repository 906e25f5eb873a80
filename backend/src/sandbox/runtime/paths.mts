/**
 * Path rules applied INSIDE the sandbox, on the real filesystem. Every path a caller sends is
 * relative to the user's root; the checks refuse anything that could reach outside it, even
 * though the isolation layer around this process should already make the outside invisible.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { SandboxErrorCode } from '../protocol.js';

export class RuntimeFailure extends Error {
  constructor(
    readonly kind: SandboxErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'RuntimeFailure';
  }
}

/** A copy of `lib/vocabulary.ts`'s `userFolders` (nothing outside this directory is mounted); a test keeps them equal. */
export const topLevelFolders = ['uploads', 'workspace', 'outputs'];
const maxPathLength = 1024;

export interface ResolvedPath {
  /** Absolute path as this process sees it. */
  abs: string;
  /** Canonical relative form (`workspace/a.txt`), '' for the root. */
  rel: string;
  segments: string[];
  /** lstat of the final component, undefined when it does not exist. */
  stat: fs.Stats | undefined;
}

export function isInside(rootReal: string, candidate: string): boolean {
  return candidate === rootReal || candidate.startsWith(`${rootReal}/`);
}

function show(input: string): string {
  return JSON.stringify(input.length > 200 ? `${input.slice(0, 200)}…` : input);
}

/** Syntactic checks: relative, no `..`, no control characters. */
export function splitPath(input: unknown, allowRoot: boolean): string[] {
  if (typeof input !== 'string') throw new RuntimeFailure('invalid_path', 'path must be a string');
  if (input.length > maxPathLength) {
    throw new RuntimeFailure(
      'invalid_path',
      `path ${show(input)} is longer than ${maxPathLength} characters`,
    );
  }
  if (/[\u0000-\u001f\u007f\\]/.test(input)) {
    throw new RuntimeFailure(
      'invalid_path',
      `path ${show(input)} contains control characters or backslashes`,
    );
  }
  if (input.startsWith('/')) {
    throw new RuntimeFailure(
      'invalid_path',
      `absolute path ${show(input)} refused: paths are relative to the user's directory`,
    );
  }
  const segments = input.split('/').filter((s) => s !== '' && s !== '.');
  if (segments.includes('..')) {
    throw new RuntimeFailure('invalid_path', `path ${show(input)} refused: '..' is not allowed`);
  }
  if (segments.length === 0 && !allowRoot) {
    throw new RuntimeFailure('invalid_path', `path ${show(input)} names the user's directory itself`);
  }
  return segments;
}

function lstatOrUndefined(p: string): fs.Stats | undefined {
  try {
    return fs.lstatSync(p);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/**
 * Resolves `input` inside `rootReal` (already a real path). Each existing parent is checked: a
 * symlink among them must resolve inside the root. The final component is returned with its
 * lstat so the caller decides how to treat a symlink; device files, FIFOs and sockets, and
 * regular files with more than one hard link (one of the links may live outside) are refused.
 */
export function resolveInside(rootReal: string, input: unknown, allowRoot = false): ResolvedPath {
  const segments = splitPath(input, allowRoot);
  const rel = segments.join('/');
  let current = rootReal;
  for (let i = 0; i < segments.length - 1; i++) {
    current = `${current}/${segments[i]}`;
    const stat = lstatOrUndefined(current);
    if (!stat) break;
    if (stat.isSymbolicLink()) {
      const target = fs.realpathSync(current);
      if (!isInside(rootReal, target)) {
        throw new RuntimeFailure(
          'invalid_path',
          `path ${show(rel)} refused: a symlink in it leads outside the user's directory`,
        );
      }
      if (!fs.statSync(target).isDirectory()) {
        throw new RuntimeFailure(
          'invalid_path',
          `path ${show(rel)}: ${show(segments.slice(0, i + 1).join('/'))} is not a folder`,
        );
      }
    } else if (!stat.isDirectory()) {
      throw new RuntimeFailure(
        'invalid_path',
        `path ${show(rel)}: ${show(segments.slice(0, i + 1).join('/'))} is not a folder`,
      );
    }
  }
  const abs = rel === '' ? rootReal : `${rootReal}/${rel}`;
  const stat = rel === '' ? fs.lstatSync(rootReal) : lstatOrUndefined(abs);
  if (stat) checkKind(rel, stat);
  return { abs, rel, segments, stat };
}

/** Refuses file kinds no tool may touch. */
export function checkKind(rel: string, stat: fs.Stats): void {
  if (stat.isSymbolicLink() || stat.isDirectory()) return;
  if (!stat.isFile()) {
    throw new RuntimeFailure(
      'invalid_path',
      `path ${show(rel)} refused: device files, FIFOs and sockets are not allowed`,
    );
  }
  if (stat.nlink > 1) {
    throw new RuntimeFailure(
      'invalid_path',
      `path ${show(rel)} refused: the file has ${stat.nlink} hard links and one may lead outside the user's directory`,
    );
  }
}

/** Follows a final symlink only when it stays inside the root; returns the real target path. */
export function followInside(rootReal: string, resolved: ResolvedPath): string {
  if (!resolved.stat?.isSymbolicLink()) return resolved.abs;
  let target: string;
  try {
    target = fs.realpathSync(resolved.abs);
  } catch {
    // A target that does not resolve may still be outside (e.g. a host path invisible here).
    const lexical = path.resolve(path.dirname(resolved.abs), fs.readlinkSync(resolved.abs));
    if (!isInside(rootReal, lexical)) {
      throw new RuntimeFailure(
        'invalid_path',
        `path ${show(resolved.rel)} refused: it is a symlink leading outside the user's directory`,
      );
    }
    throw new RuntimeFailure('not_found', `path ${show(resolved.rel)} is a dangling symlink`);
  }
  if (!isInside(rootReal, target)) {
    throw new RuntimeFailure(
      'invalid_path',
      `path ${show(resolved.rel)} refused: it is a symlink leading outside the user's directory`,
    );
  }
  checkKind(resolved.rel, fs.lstatSync(target));
  return target;
}

/** What a walk of the user's files found: bytes used, and a fingerprint per regular file. */
export interface FileScan {
  bytes: number;
  /** `workspace/a.txt` → `size:mtimeMs`; undefined when there were too many files to track. */
  files: Map<string, string> | undefined;
}

const maxTrackedFiles = 10_000;

/**
 * Walks `dir` once: bytes held by regular files (symlinks hold none) and their fingerprints.
 * The walk stops past `limits` (files, folder depth), so a tree of a million files or ten
 * thousand levels costs bounded time; the worker's sync reports such a tree, this walk only
 * must not hang on it (its figures are then a lower bound and no changes are reported).
 */
export function scanFiles(
  dir: string,
  limits: { maxFiles: number; maxDepth: number } = { maxFiles: maxTrackedFiles, maxDepth: 64 },
): FileScan {
  let bytes = 0;
  let count = 0;
  let files: Map<string, string> | undefined = new Map();
  const stack: Array<[string, string, number]> = [[dir, '', 0]];
  while (stack.length > 0) {
    const [current, rel, depth] = stack.pop() as [string, string, number];
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(current, { withFileTypes: true });
    } catch {
      continue;
    }
    for (const entry of entries) {
      const p = `${current}/${entry.name}`;
      const childRel = rel ? `${rel}/${entry.name}` : entry.name;
      if (entry.isDirectory()) {
        if (depth + 1 >= limits.maxDepth) return { bytes, files: undefined };
        stack.push([p, childRel, depth + 1]);
      } else if (entry.isFile()) {
        if (++count > limits.maxFiles) return { bytes, files: undefined };
        try {
          const stat = fs.lstatSync(p);
          bytes += stat.size;
          files?.set(childRel, `${stat.size}:${stat.mtimeMs}`);
          if (files && files.size > maxTrackedFiles) files = undefined;
        } catch {
          // removed meanwhile
        }
      }
    }
  }
  return { bytes, files };
}

/** Files created, modified or deleted between two scans. */
export function changesBetween(
  before: FileScan,
  after: FileScan,
): Array<{ path: string; change: 'created' | 'modified' | 'deleted' }> {
  if (!before.files || !after.files) return [];
  const changes: Array<{ path: string; change: 'created' | 'modified' | 'deleted' }> = [];
  for (const [file, print] of after.files) {
    const then = before.files.get(file);
    if (then === undefined) changes.push({ path: file, change: 'created' });
    else if (then !== print) changes.push({ path: file, change: 'modified' });
  }
  for (const file of before.files.keys())
    if (!after.files.has(file)) changes.push({ path: file, change: 'deleted' });
  return changes.sort((a, b) => (a.path < b.path ? -1 : 1));
}
