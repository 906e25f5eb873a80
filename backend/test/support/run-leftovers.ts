/**
 * Vitest global setup of the backend and frontend projects: a run leaves nothing behind. Every Redis key prefix
 * and PostgreSQL database a test file makes (`services.ts`) is recorded in a directory of this
 * run; at the end the keys under those prefixes (BullMQ's kept jobs and event streams would live
 * a day) and any database a crashed test did not drop are removed, and a temporary entry named
 * `ipa-*` that a test created and left in the system's temporary directory fails the run, named.
 */
import { appendFileSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Redis } from 'ioredis';
import pg from 'pg';

/** The environment variable that tells test files where this run records what it made. */
export const runRecordVariable = 'IPA_TEST_RUN_RECORD';

/** Called by the helpers that make databases and key prefixes (no-op outside a recorded run). */
export function recordMade(kind: 'redis-prefix' | 'database', name: string): void {
  const dir = process.env[runRecordVariable];
  if (dir) appendFileSync(path.join(dir, kind), `${name}\n`);
}

function recorded(dir: string, kind: string): string[] {
  try {
    return [...new Set(readFileSync(path.join(dir, kind), 'utf8').split('\n').filter(Boolean))];
  } catch {
    return [];
  }
}

/**
 * `ipa-*` entries in the temporary directory. The sandbox runtime bundled from sources (tests run
 * from sources) is a content-addressed cache that later runs reuse, one per version of its code.
 */
const temporaryEntries = () =>
  new Set(
    readdirSync(os.tmpdir()).filter(
      (name) => name.startsWith('ipa-') && !/^ipa-sandbox-runtime-[0-9a-f]{16}$/.test(name),
    ),
  );

/** Removes every key under the prefixes from the Redis at `url`. */
export async function removeRedisKeys(url: string, prefixes: readonly string[]): Promise<void> {
  const redis = new Redis(url, { maxRetriesPerRequest: 1, lazyConnect: true });
  try {
    await redis.connect();
    for (const prefix of prefixes) {
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
        cursor = next;
        if (keys.length > 0) await redis.unlink(...keys);
      } while (cursor !== '0');
    }
  } finally {
    redis.disconnect();
  }
}

/** Removes the keys under the prefixes and the databases a run recorded in `dir`, then `dir`. */
export async function removeRecorded(dir: string): Promise<void> {
  const { postgresAdminUrl, redisUrl } = await import('./services.js');
  const prefixes = recorded(dir, 'redis-prefix');
  if (prefixes.length > 0) await removeRedisKeys(redisUrl, prefixes);
  const databases = recorded(dir, 'database');
  if (databases.length > 0) {
    const admin = new pg.Client({ connectionString: postgresAdminUrl });
    await admin.connect();
    try {
      for (const name of databases) await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    } finally {
      await admin.end();
    }
  }
  rmSync(dir, { recursive: true, force: true });
}

/** Starts recording for this process and the ones it starts (`IPA_TEST_RUN_RECORD`). */
export function startRecording(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'vitest-run-record-'));
  process.env[runRecordVariable] = dir;
  return dir;
}

export default function setup(): () => Promise<void> {
  const before = temporaryEntries();
  const dir = startRecording();

  return async () => {
    await removeRecorded(dir);
    const left = [...temporaryEntries()].filter((name) => !before.has(name));
    if (left.length > 0) {
      // Vitest reports an error thrown here but keeps its exit code: set it too.
      process.exitCode = 1;
      throw new Error(`tests left these in ${os.tmpdir()}: ${left.sort().join(', ')}`);
    }
  };
}

// `tsx run-leftovers.ts remove <dir>`: the benchmark runner's cleanup after its runs.
const invokedDirectly =
  process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href;
if (invokedDirectly && process.argv[2] === 'remove' && process.argv[3]) {
  // Not a top-level await: services.ts imports this module, and would wait for it forever.
  removeRecorded(process.argv[3]).catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
