/**
 * The one rule for file paths that users and models send: relative, under one of the three
 * top-level folders, made of ordinary segments. The sandbox runtime applies its own, stricter
 * checks on the real filesystem (symlinks, devices); this one guards the API and the database.
 */
import { userFolders } from '../lib/vocabulary.js';

export const topLevelFolders = userFolders;

export const maxPathLength = 1024;
export const maxSegmentLength = 255;
/** Segments of a path, the top-level folder included: deeper trees are not synced or stored. */
export const maxPathDepth = 64;

export class InvalidPathError extends Error {
  constructor(
    readonly path: string,
    reason: string,
  ) {
    super(`invalid path ${JSON.stringify(path.slice(0, 200))}: ${reason}`);
    this.name = 'InvalidPathError';
  }
}

/** Returns the canonical form (`uploads/a/b.csv`) or throws InvalidPathError. */
export function normalizeFilePath(input: string, options: { allowFolder?: boolean } = {}): string {
  if (typeof input !== 'string' || input.length === 0) throw new InvalidPathError(String(input), 'empty');
  if (input.length > maxPathLength)
    throw new InvalidPathError(input, `longer than ${maxPathLength} characters`);
  if (input.startsWith('/') || input.startsWith('\\'))
    throw new InvalidPathError(input, 'absolute paths are not allowed');
  if (/[\u0000-\u001f\u007f\\]/.test(input))
    throw new InvalidPathError(input, 'control characters or backslashes');
  const segments = input.split('/').filter((s, i, all) => s !== '' || i === all.length - 1);
  if (segments.at(-1) === '') segments.pop();
  for (const segment of segments) {
    if (segment === '' || segment === '.' || segment === '..') {
      throw new InvalidPathError(input, "'.', '..' and empty segments are not allowed");
    }
    if (segment.length > maxSegmentLength) throw new InvalidPathError(input, 'a segment is too long');
  }
  const top = segments[0];
  if (!top || !(topLevelFolders as readonly string[]).includes(top)) {
    throw new InvalidPathError(input, `must start with ${topLevelFolders.join('/, ')}/`);
  }
  if (segments.length > maxPathDepth)
    throw new InvalidPathError(input, `more than ${maxPathDepth} levels of folders`);
  if (segments.length === 1 && !options.allowFolder)
    throw new InvalidPathError(input, 'names a folder, not a file');
  return segments.join('/');
}

/**
 * Where a write that lost to a concurrent change is kept beside the file it meant to replace:
 * `outputs/report (conflict 1a2b3c4d).csv`. A name too long for that is shortened; a path too
 * deep for it falls back to `<top folder>/conflict <tag><extension>`. The result is canonical.
 */
export function conflictCopyPath(canonical: string, tag: string): string {
  const slash = canonical.lastIndexOf('/');
  const folder = canonical.slice(0, slash);
  const name = canonical.slice(slash + 1);
  const dot = name.lastIndexOf('.');
  const hasExtension = dot > 0 && name.length - dot <= 16;
  const stem = hasExtension ? name.slice(0, dot) : name;
  const extension = hasExtension ? name.slice(dot) : '';
  const suffix = ` (conflict ${tag})`;
  const room =
    Math.min(maxSegmentLength, maxPathLength - folder.length - 1) - suffix.length - extension.length;
  // A cut between the two halves of a surrogate pair would leave half a character.
  const shortened = room >= 1 ? stem.slice(0, room).replace(/[\uD800-\uDBFF]$/, '') : '';
  if (shortened.length >= 1) return normalizeFilePath(`${folder}/${shortened}${suffix}${extension}`);
  return normalizeFilePath(`${canonical.split('/')[0]}/conflict ${tag}${extension}`);
}
