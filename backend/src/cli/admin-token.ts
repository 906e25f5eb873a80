import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { generateToken } from '../store/index.js';

/**
 * Standalone mode's first-start admin token. The token itself is stored only hashed (in the
 * database) and printed once; a marker file under DATA_DIR remembers that it was issued, so later
 * starts can say where it went and how to get a new one — without ever showing it again.
 */
export interface AdminTokenMarker {
  issuedAt: string;
  /** The token's first characters, safe to show. */
  prefix: string;
}

export const adminTokenMarkerName = 'admin-token-issued.json';

export function adminTokenMarkerPath(dataDir: string): string {
  return path.join(dataDir, adminTokenMarkerName);
}

export async function readAdminTokenMarker(dataDir: string): Promise<AdminTokenMarker | null> {
  try {
    const parsed = JSON.parse(
      await readFile(adminTokenMarkerPath(dataDir), 'utf8'),
    ) as Partial<AdminTokenMarker>;
    if (typeof parsed.issuedAt === 'string' && typeof parsed.prefix === 'string') {
      return { issuedAt: parsed.issuedAt, prefix: parsed.prefix };
    }
    return null;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    // A damaged marker is treated as absent: a new token is issued and the marker rewritten.
    return null;
  }
}

export async function writeAdminTokenMarker(dataDir: string, marker: AdminTokenMarker): Promise<void> {
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const target = adminTokenMarkerPath(dataDir);
  const temporary = `${target}.${process.pid}.tmp`;
  await writeFile(temporary, `${JSON.stringify(marker, null, 2)}\n`, { mode: 0o600 });
  await rename(temporary, target);
}

/** A fresh token in the platform's format (`ipa_` + 43 base64url characters). */
export function newAdminToken(): string {
  return generateToken();
}

export function tokenPrefix(token: string): string {
  return `${token.slice(0, 8)}…`;
}
