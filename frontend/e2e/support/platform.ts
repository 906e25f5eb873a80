/**
 * Runs the real platform for the browser tests: the built standalone backend (API + worker +
 * the built SPA in one process, embedded database) on a free port with a throwaway data
 * directory, talking to the local fake model server instead of a real provider.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import {
  type FakeModelServer,
  type FakeScript,
  lastUserText,
  scenarios,
  startFakeModelServer,
} from '../../../backend/test/support/fake-model/index.js';

export const repoRoot = resolve(import.meta.dirname, '../../..');
export const backendMain = join(repoRoot, 'backend/dist/main.js');
export const staticDir = join(repoRoot, 'frontend/dist');
export const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Why the browser tests cannot run here, or null when they can. */
export function e2eSkipReason(): string | null {
  if (!existsSync(chromiumPath)) return `no Chromium at ${chromiumPath} (set CHROMIUM_PATH)`;
  if (!existsSync(backendMain)) return `${backendMain} is missing: run \`npm run build -w backend\``;
  if (!existsSync(join(staticDir, 'index.html')))
    return `${staticDir} is missing: run \`npm run build -w frontend\``;
  return null;
}

/** The slow answer: numbered words, so a lost or repeated chunk shows as a gap or a repeat. */
export const slowAnswer = Array.from({ length: 220 }, (_, i) => `n${i + 1}`).join(' ');

/**
 * The model's behaviour, chosen by the user's message: "slow …" streams `slowAnswer` over about
 * 20 s (cancel and reload cases), "hello …" answers one sentence, anything else saves the message
 * with a write_file tool call and then answers.
 */
export const e2eModelScript: FakeScript = (request, index) => {
  const text = lastUserText(request);
  if (text.startsWith('slow')) {
    return { blocks: [{ type: 'text', text: slowAnswer, chunkSize: 6 }], chunkDelayMs: 80 };
  }
  const script = scenarios[text.startsWith('hello') ? 'hello' : 'echo-with-tool']?.script;
  if (typeof script !== 'function') throw new Error('fake model scenario is not a function');
  return script(request, index);
};

export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolvePort(address.port) : reject(new Error('no port')),
      );
    });
  });
}

export const newToken = () => `ipa_${randomBytes(32).toString('base64url')}`;

export interface Platform {
  url: string;
  adminToken: string;
  model: FakeModelServer;
  /** What the backend printed, for failure messages. */
  log(): string;
  close(): Promise<void>;
}

export async function startPlatform(
  options: { readyTimeoutMs?: number; adminToken?: string } = {},
): Promise<Platform> {
  const model = await startFakeModelServer(e2eModelScript);
  const dataDir = mkdtempSync(join(tmpdir(), 'ipa-e2e-'));
  chmodSync(dataDir, 0o755);
  const port = await freePort();
  const adminToken = options.adminToken ?? newToken();
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    LANG: 'C.UTF-8',
    NODE_ENV: 'production',
    LOG_LEVEL: 'warn',
    PORT: String(port),
    HOST: '127.0.0.1',
    DATA_DIR: dataDir,
    STATIC_DIR: staticDir,
    IPA_ADMIN_TOKEN: adminToken,
    MODEL_PROVIDER: 'anthropic',
    MODEL_NAME: 'claude-fake',
    ANTHROPIC_API_KEY: 'fake-key',
    ANTHROPIC_BASE_URL: `${model.url}/v1`,
    // The browser tests sign in several times in quick succession.
    RATE_LIMIT_PER_MINUTE: '10000',
  };
  let output = '';
  const child: ChildProcess = spawn(process.execPath, [backendMain, 'standalone'], {
    cwd: repoRoot,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const exited = new Promise<void>((resolveExit) => child.once('exit', () => resolveExit()));
  const url = `http://127.0.0.1:${port}`;

  const close = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    }
    await model.close();
    rmSync(dataDir, { recursive: true, force: true });
  };

  const deadline = Date.now() + (options.readyTimeoutMs ?? 240_000);
  for (;;) {
    if (child.exitCode !== null) {
      await close();
      throw new Error(`the standalone backend exited with ${child.exitCode}:\n${output}`);
    }
    try {
      const response = await fetch(`${url}/health/ready`);
      if (response.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await close();
      throw new Error(`the standalone backend was not ready in time:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return { url, adminToken, model, log: () => output, close };
}

/** Calls the API with a bearer token (test set-up that is not what the test is about). */
export async function apiAs<T>(
  platform: Platform,
  token: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<T> {
  const response = await fetch(`${platform.url}/api/v1${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path} → ${response.status}: ${text}`);
  return (text ? JSON.parse(text) : undefined) as T;
}

export async function createUser(platform: Platform, name: string, isAdmin = false) {
  return apiAs<{ user: { id: string; name: string }; token: string }>(
    platform,
    platform.adminToken,
    'POST',
    '/admin/users',
    {
      name,
      isAdmin,
    },
  );
}
