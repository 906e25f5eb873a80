import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

// This file sits at backend/{src,dist}/cli/: the backend package is two levels up, the repository
// three. Paths are resolved from here, not from the working directory, so `npm start` and
// `node backend/dist/main.js` find the same files wherever they are started from.
const here = path.dirname(fileURLToPath(import.meta.url));
const backendDir = path.resolve(here, '..', '..');
export const repositoryDir = path.resolve(backendDir, '..');

let version: string | undefined;

/** The platform's version, from the backend package. */
export function platformVersion(): string {
  if (version === undefined) {
    try {
      const pkg = JSON.parse(readFileSync(path.join(backendDir, 'package.json'), 'utf8')) as {
        version?: unknown;
      };
      version = typeof pkg.version === 'string' ? pkg.version : '0.0.0';
    } catch {
      version = '0.0.0';
    }
  }
  return version;
}

function isBuiltApp(dir: string): boolean {
  try {
    return statSync(dir).isDirectory() && existsSync(path.join(dir, 'index.html'));
  } catch {
    return false;
  }
}

/**
 * Where the built web app is: STATIC_DIR when set (an error when it holds no built app), else the
 * repository's `frontend/dist` when it has been built, else none (the API runs without it).
 */
export function resolveStaticDir(configured: string | undefined): { dir?: string; problem?: string } {
  if (configured !== undefined) {
    const dir = path.resolve(configured);
    if (!isBuiltApp(dir)) return { problem: `STATIC_DIR: ${dir} holds no index.html (build the web app)` };
    return { dir };
  }
  const built = path.join(repositoryDir, 'frontend', 'dist');
  return isBuiltApp(built) ? { dir: built } : {};
}
