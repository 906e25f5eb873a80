import { spawn } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { loadConfig } from '../../../src/config/index.js';
import { createSandboxOrchestrator, SandboxError } from '../../../src/sandbox/index.js';
import { RuntimeFailure } from '../../../src/sandbox/runtime/paths.mjs';
import { SyncTools } from '../../../src/sandbox/runtime/sync.mjs';
import type {
  CallOptions,
  CodeRunResult,
  PoolFigures,
  SandboxLease,
  SandboxOrchestrator,
  ScriptLanguage,
} from '../../../src/sandbox/types.js';
import {
  type FileRepository,
  type Message,
  type MessageRepository,
  QuotaExceededError,
  type StoredFile,
} from '../../../src/store/types.js';

/**
 * Small in-memory stand-ins for the file and message repositories and the sandbox orchestrator,
 * so the file sync's and the history window's own logic is tested without the rest of the
 * platform. The sandbox double really runs JavaScript in a child process inside the user's
 * directory. The executors' tests use a real store (./context.ts).
 */

export function memoryFiles(): FileRepository & { data: Map<string, Map<string, Buffer>> } {
  const data = new Map<string, Map<string, Buffer>>();
  const userFiles = (userId: string) => {
    let files = data.get(userId);
    if (!files) {
      files = new Map();
      data.set(userId, files);
    }
    return files;
  };
  const info = (userId: string, p: string, content: Buffer): StoredFile => ({
    userId,
    path: p,
    size: content.length,
    sha256: createHash('sha256').update(content).digest('hex'),
    updatedAt: new Date().toISOString(),
  });
  return {
    data,
    async list(userId, prefix = '') {
      return [...userFiles(userId).entries()]
        .filter(([p]) => p.startsWith(prefix))
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([p, c]) => info(userId, p, c));
    },
    async get(userId, p) {
      const content = userFiles(userId).get(p);
      return content ? { ...info(userId, p, content), content } : null;
    },
    async open(userId, p, rangeOf) {
      const content = userFiles(userId).get(p);
      if (!content) return null;
      const range = rangeOf?.(info(userId, p, content));
      const bytes = range ? content.subarray(range.start, range.end + 1) : content;
      return { ...info(userId, p, content), content: Readable.from([bytes]), range };
    },
    async put(userId, p, content, quotaBytes) {
      const files = userFiles(userId);
      let used = 0;
      for (const [other, c] of files) if (other !== p) used += c.length;
      if (used + content.length > quotaBytes) throw new QuotaExceededError(used + content.length, quotaBytes);
      files.set(p, Buffer.from(content));
      return info(userId, p, content);
    },
    async apply(userId, change, quotaBytes) {
      const files = userFiles(userId);
      const next = new Map(files);
      for (const p of change.deletes) next.delete(p);
      for (const w of change.writes) next.set(w.path, Buffer.from(w.content));
      const total = (map: Map<string, Buffer>) => [...map.values()].reduce((sum, c) => sum + c.length, 0);
      const [before, after] = [total(files), total(next)];
      if (after > quotaBytes && after > before)
        throw new QuotaExceededError(before, quotaBytes, after - before);
      data.set(userId, next);
      // Concurrent changes (`bases`) are the real repositories' business (store contract).
      return { conflicts: [] };
    },
    async delete(userId, p) {
      return userFiles(userId).delete(p);
    },
    async usage(userId) {
      let used = 0;
      for (const c of userFiles(userId).values()) used += c.length;
      return used;
    },
  };
}

export function memoryMessages(): MessageRepository & { all: Message[] } {
  const all: Message[] = [];
  return {
    all,
    async append(input) {
      const message: Message = {
        id: randomUUID(),
        sessionId: input.sessionId,
        executionId: input.executionId ?? null,
        role: input.role,
        parts: structuredClone(input.parts),
        createdAt: new Date().toISOString(),
      };
      all.push(message);
      return message;
    },
    async list(sessionId, page = {}) {
      const items = all.filter((m) => m.sessionId === sessionId);
      const start = page.cursor ? Number(page.cursor) : 0;
      const limit = page.limit ?? 50;
      const slice = items.slice(start, start + limit);
      return { items: slice, nextCursor: start + limit < items.length ? String(start + limit) : null };
    },
    async latest(sessionId, limit, throughId) {
      const items = all.filter((m) => m.sessionId === sessionId);
      const through = items.findIndex((m) => m.id === throughId);
      const end = through >= 0 ? through + 1 : items.length;
      return items.slice(Math.max(0, end - limit), end);
    },
    async deleteByExecution(executionId, roles) {
      let removed = 0;
      for (let i = all.length - 1; i >= 0; i--) {
        const m = all[i];
        if (m && m.executionId === executionId && roles.includes(m.role)) {
          all.splice(i, 1);
          removed++;
        }
      }
      return removed;
    },
  };
}

export interface SandboxDouble extends SandboxOrchestrator {
  acquired: number;
  released: number;
  calls: string[];
}

function resolveInside(root: string, relative: string): string {
  const full = path.resolve(root, relative);
  if (full !== root && !full.startsWith(`${root}${path.sep}`)) {
    throw new SandboxError('invalid_path', `path leaves the user's directory: ${relative}`);
  }
  return full;
}

/** The lease's sync calls, answered by the sandbox runtime's SyncTools on `dir` in this process. */
function syncCalls(
  dir: string,
): Pick<SandboxLease, 'syncScan' | 'syncHash' | 'syncRead' | 'syncWrite' | 'syncDelete'> {
  const tools = () => new SyncTools(dir, 50 * 1024 * 1024);
  const call = async <T>(work: () => T): Promise<T> => {
    try {
      return work();
    } catch (error) {
      if (error instanceof RuntimeFailure) throw new SandboxError(error.kind, error.message);
      throw error;
    }
  };
  return {
    syncScan: (limits) =>
      call(() => {
        const files: Array<[string, number, string]> = [];
        const { exceeded } = tools().scan({ limits }, (batch) => files.push(...batch));
        return { files, exceeded };
      }),
    syncHash: (paths) => call(() => tools().hash({ paths }).files),
    syncRead: (p) => call(() => tools().read({ path: p })),
    syncWrite: (p, content) =>
      call(() => tools().write({ path: p, content: content.toString('base64') }).stamp),
    syncDelete: (paths) => call(() => tools().delete({ paths }).removed),
  };
}

/** A sandbox orchestrator double: fs methods on the user's directory, JavaScript in a child process. */
function processSandbox(root: string, languages: readonly ScriptLanguage[]): SandboxOrchestrator {
  const double: SandboxOrchestrator = {
    isolation: 'process',
    languages,
    userDir: (userId) => path.join(root, userId),
    async acquire(userId, options = {}) {
      options.signal?.throwIfAborted();
      const dir = double.userDir(userId);
      for (const folder of ['uploads', 'workspace', 'outputs'])
        await fs.mkdir(path.join(dir, folder), { recursive: true });
      let released = false;
      const lease: SandboxLease = {
        userId,
        isolation: 'process',
        async list(p) {
          const full = resolveInside(dir, p);
          const entries = await fs.readdir(full, { withFileTypes: true }).catch(() => {
            throw new SandboxError('not_found', `no such folder: ${p}`);
          });
          return Promise.all(
            entries.map(async (e) => ({
              path: path.posix.join(p, e.name),
              type: e.isDirectory() ? ('directory' as const) : ('file' as const),
              size: e.isDirectory() ? 0 : (await fs.stat(path.join(full, e.name))).size,
            })),
          );
        },
        async read(p) {
          const content = await fs.readFile(resolveInside(dir, p), 'utf8').catch(() => {
            throw new SandboxError('not_found', `no such file: ${p}`);
          });
          return { content, encoding: 'utf8' as const, size: Buffer.byteLength(content) };
        },
        async write(p, content) {
          const full = resolveInside(dir, p);
          await fs.mkdir(path.dirname(full), { recursive: true });
          await fs.writeFile(full, content);
          return { size: Buffer.byteLength(content) };
        },
        async edit(p, oldText, newText) {
          const full = resolveInside(dir, p);
          const text = await fs.readFile(full, 'utf8');
          const replacements = text.split(oldText).length - 1;
          await fs.writeFile(full, text.split(oldText).join(newText));
          return { replacements };
        },
        async delete(p) {
          await fs.rm(resolveInside(dir, p));
        },
        run: (input, options) => runNode(path.join(dir, 'workspace'), input, options),
        // The runtime's own sync code, run here on the host directory (this double has no sandbox).
        ...syncCalls(dir),
        async discardFiles() {
          await fs.rm(dir, { recursive: true, force: true });
          for (const folder of ['uploads', 'workspace', 'outputs'])
            await fs.mkdir(path.join(dir, folder), { recursive: true });
        },
        release() {
          if (released) throw new Error('lease released twice');
          released = true;
        },
      };
      return lease;
    },
    figures: (): PoolFigures => ({
      live: 0,
      busy: 0,
      idle: 0,
      waiting: 0,
      starts: 0,
      crashes: 0,
      evictions: 0,
      reaped: 0,
      reuseRatio: 1,
      waitMsTotal: 0,
      waitMsMax: 0,
      diskBytes: 0,
      diskEvictions: 0,
      sparesReady: 0,
      sparesStarting: 0,
      sparesHandedOut: 0,
      spareRefillFailures: 0,
    }),
    async shutdown() {},
  };
  return double;
}

/** A sandbox orchestrator double: fs methods on the user's directory, JavaScript in a child process. */
export function sandboxDouble(
  root: string,
  languages: readonly ScriptLanguage[] = ['javascript', 'typescript'],
): SandboxDouble {
  return recording(processSandbox(root, languages));
}

/** The platform's real orchestrator (bwrap or process level, as this machine allows) under `root`. */
export async function realSandbox(root: string): Promise<SandboxDouble> {
  // The sandbox's own uid must be able to walk down to the root (a temporary folder is 0700).
  // Only the folder the test made changes: its parent is the system's, e.g. /tmp (1777).
  await fs.chmod(root, 0o711);
  const config = testConfig({ SANDBOX_ROOT: path.join(root, 'sandbox') });
  return recording(await createSandboxOrchestrator({ ...config.sandbox }));
}

/** Counts leases and records the fs calls made through them. */
function recording(inner: SandboxOrchestrator): SandboxDouble {
  const double: SandboxDouble = {
    get isolation() {
      return inner.isolation;
    },
    get languages() {
      return inner.languages;
    },
    acquired: 0,
    released: 0,
    calls: [],
    userDir: (userId) => inner.userDir(userId),
    async acquire(userId, options) {
      const lease = await inner.acquire(userId, options);
      double.acquired++;
      // Records the call, then makes it.
      const record = <T>(name: string, p: string, call: () => Promise<T>): Promise<T> => {
        double.calls.push(`${name} ${p}`);
        return call();
      };
      return {
        userId: lease.userId,
        isolation: lease.isolation,
        list: (p, o) => record('list', p, () => lease.list(p, o)),
        read: (p, o) => record('read', p, () => lease.read(p, o)),
        write: (p, c, o) => record('write', p, () => lease.write(p, c, o)),
        edit: (p, a, b, o) => record('edit', p, () => lease.edit(p, a, b, o)),
        delete: (p, o) => record('delete', p, () => lease.delete(p, o)),
        run: (input, o) => lease.run(input, o),
        syncScan: (limits, o) => lease.syncScan(limits, o),
        syncHash: (paths, o) => lease.syncHash(paths, o),
        syncRead: (p, o) => lease.syncRead(p, o),
        syncWrite: (p, c, o) => lease.syncWrite(p, c, o),
        syncDelete: (paths, o) => lease.syncDelete(paths, o),
        discardFiles: () => lease.discardFiles(),
        release() {
          double.released++;
          lease.release();
        },
      };
    },
    figures: () => inner.figures(),
    shutdown: () => inner.shutdown(),
  };
  return double;
}

function runNode(
  cwd: string,
  input: { language: ScriptLanguage; code: string; input?: unknown; timeoutMs: number },
  options: CallOptions = {},
): Promise<CodeRunResult> {
  return new Promise((resolve, reject) => {
    if (options.signal?.aborted) return reject(new SandboxError('cancelled', 'call cancelled'));
    const started = performance.now();
    // The dialect of the real sandbox runtime: `input` and `require` in scope, the body is an
    // async function whose return value is the result (handed back on fd 3 here).
    const program = `import { createRequire } from 'node:module';
import { writeSync } from 'node:fs';
const input = JSON.parse(process.env.IPA_INPUT);
const require = createRequire(process.cwd() + '/');
const result = await (async () => {
${input.code}
})();
if (result !== undefined) writeSync(3, JSON.stringify(result));`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', program], {
      cwd,
      env: { PATH: process.env.PATH ?? '', IPA_INPUT: JSON.stringify(input.input ?? null) },
      stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
    });
    let resultText = '';
    child.stdio[3]?.on('data', (d: Buffer) => {
      resultText += d.toString();
    });
    const onAbort = () => child.kill('SIGKILL');
    options.signal?.addEventListener('abort', onAbort, { once: true });
    child.stdout?.on('data', (d: Buffer) =>
      options.onEvent?.({ kind: 'output', stream: 'stdout', data: d.toString() }),
    );
    child.stderr?.on('data', (d: Buffer) =>
      options.onEvent?.({ kind: 'output', stream: 'stderr', data: d.toString() }),
    );
    child.on('close', (code) => {
      options.signal?.removeEventListener('abort', onAbort);
      if (options.signal?.aborted) return reject(new SandboxError('cancelled', 'call cancelled'));
      resolve({
        exitCode: code,
        ...(resultText ? { result: JSON.parse(resultText) as unknown } : {}),
        durationMs: performance.now() - started,
        timedOut: false,
        outputTruncated: false,
      });
    });
  });
}

export async function tempDir(prefix = 'ipa-engine-'): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), prefix));
}

export function testConfig(env: Record<string, string> = {}, dataDir?: string) {
  return loadConfig('standalone', { DATA_DIR: dataDir ?? os.tmpdir(), LOG_LEVEL: 'silent', ...env });
}
