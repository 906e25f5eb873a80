/**
 * The one rule for file paths that users and models send: relative, under one of the three
 * top-level folders, made of ordinary segments. The sandbox runtime applies its own, stricter
 * checks on the real filesystem (symlinks, devices); this one guards the API and the database.
 */
export const topLevelFolders = ['uploads', 'workspace', 'outputs'] as const;

const maxPathLength = 1024;
const maxSegmentLength = 255;

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
  if (segments.length === 1 && !options.allowFolder)
    throw new InvalidPathError(input, 'names a folder, not a file');
  return segments.join('/');
}
