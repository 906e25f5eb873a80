import { spawn, spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { platformVersion, runCli } from '../../src/cli/index.js';
import { detectIsolation } from '../../src/sandbox/index.js';
import { tempDirForChildren } from '../support/child-tmp.js';
import { freshPostgresDatabase, freshRedisPrefix, redisUrl } from '../support/services.js';

const backendDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const builtMain = path.join(backendDir, 'dist', 'main.js');

async function run(argv: string[], env: NodeJS.ProcessEnv = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(argv, env, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out: out.join('\n'), err: err.join('\n'), errLines: err };
}

describe('ipa command line', () => {
  it('prints the general help with every command', async () => {
    for (const flag of ['--help', '-h', 'help']) {
      const { code, out, err } = await run([flag]);
      expect(code).toBe(0);
      expect(err).toBe('');
      expect(out).toMatch(/^Usage: ipa <command>/);
      for (const command of ['api', 'worker', 'standalone', 'migrate'])
        expect(out).toMatch(new RegExp(`\\n  ${command} `));
    }
  });

  it('prints per-command help', async () => {
    const worker = await run(['worker', '--help']);
    expect(worker.code).toBe(0);
    expect(worker.out).toContain('Usage: ipa worker');
    expect(worker.out).toContain('WORKER_GRACE_SECONDS');
    const migrate = await run(['help', 'migrate']);
    expect(migrate.code).toBe(0);
    expect(migrate.out).toContain('Usage: ipa migrate');
  });

  it('prints the version', async () => {
    const { code, out } = await run(['--version']);
    expect(code).toBe(0);
    expect(out).toBe(platformVersion());
    expect(out).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('answers an unknown command, a missing command and stray arguments with exit 2 and the usage', async () => {
    for (const argv of [['serve'], [], ['--verbose'], ['api', 'now'], ['help', 'nothing']]) {
      const { code, err, out } = await run(argv);
      expect(code, argv.join(' ')).toBe(2);
      expect(out).toBe('');
      expect(err.split('\n')[0]).toMatch(/^ipa: /);
      expect(err).toContain('Usage: ipa');
    }
    expect((await run(['serve'])).err).toContain("unknown command 'serve'");
  });

  it('stops on an invalid environment with one line per problem and exit 2', async () => {
    const { code, errLines } = await run(['worker'], { PORT: 'eighty', WORKER_CONCURRENCY: '-1' });
    expect(code).toBe(2);
    expect(errLines).toHaveLength(4);
    for (const line of errLines) expect(line).toMatch(/^ipa worker: invalid configuration: [A-Z_]+: /);
    const names = errLines.map((l) => l.split(': ')[2]).sort();
    expect(names).toEqual(['PORT', 'WORKER_CONCURRENCY', 'DATABASE_URL', 'REDIS_URL'].sort());
  });

  it('refuses a STATIC_DIR without a built app', async () => {
    const { code, errLines } = await run(['standalone'], { STATIC_DIR: '/nonexistent/ipa-app' });
    expect(code).toBe(2);
    expect(errLines).toEqual([
      expect.stringMatching(/^ipa standalone: invalid configuration: STATIC_DIR: .*index\.html/),
    ]);
  });
});

describe('ipa migrate, api and worker against PostgreSQL', () => {
  let database: Awaited<ReturnType<typeof freshPostgresDatabase>>;
  let env: NodeJS.ProcessEnv;
  let sandboxRoot: string;

  beforeAll(async () => {
    database = await freshPostgresDatabase();
    sandboxRoot = await mkdtemp(path.join(os.tmpdir(), 'ipa-cli-'));
    env = {
      DATABASE_URL: database.url,
      REDIS_URL: redisUrl,
      REDIS_PREFIX: freshRedisPrefix(),
      LOG_LEVEL: 'silent',
      SANDBOX_ROOT: sandboxRoot,
    };
  });
  afterAll(async () => {
    await database?.drop();
    await rm(sandboxRoot, { recursive: true, force: true });
  });

  it('api and worker refuse to start until the schema is current', async () => {
    for (const command of ['api', 'worker']) {
      const { code, errLines } = await run([command], env);
      expect(code).toBe(1);
      expect(errLines).toEqual([
        expect.stringMatching(
          new RegExp(`^ipa ${command}: the database schema is not current .*ipa migrate`),
        ),
      ]);
    }
  });

  it('migrate applies the schema, then finds it current (exit 0 both times)', async () => {
    const first = await run(['migrate'], env);
    expect(first.code).toBe(0);
    expect(first.out).toMatch(/^applied \d+ migration/);
    const second = await run(['migrate'], env);
    expect(second.code).toBe(0);
    expect(second.out).toBe('the schema is already current');
  });

  it('migrate reports an unreachable database with exit 1', async () => {
    const { code, err } = await run(['migrate'], { DATABASE_URL: 'postgres://postgres@127.0.0.1:1/none' });
    expect(code).toBe(1);
    expect(err).toMatch(/^ipa migrate: failed: /);
  });

  it('a worker that requires bwrap isolation it cannot have refuses to start', async () => {
    const contradiction = await run(['worker'], {
      ...env,
      SANDBOX_ISOLATION: 'process',
      SANDBOX_REQUIRE_ISOLATION: 'bwrap',
    });
    expect(contradiction.code).toBe(1);
    expect(contradiction.err).toMatch(
      /^ipa worker: the sandbox cannot start: .*SANDBOX_REQUIRE_ISOLATION=bwrap/,
    );

    const detected = await detectIsolation();
    if (detected.level === 'bwrap') {
      console.info('bwrap works on this machine: the "no bwrap at all" refusal is covered by the case above');
      return;
    }
    const missing = await run(['worker'], { ...env, SANDBOX_REQUIRE_ISOLATION: 'bwrap' });
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/^ipa worker: the sandbox cannot start: .*bwrap/);
  });
});

describe('the built ipa binary', () => {
  const present = existsSync(builtMain);
  if (!present) console.info(`skipped: ${builtMain} is missing (npm test builds it first)`);

  it.skipIf(!present)('is executable and runs --help and usage errors', () => {
    expect(statSync(builtMain).mode & 0o111).not.toBe(0);
    const help = spawnSync(builtMain, ['--help'], { encoding: 'utf8' });
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('Usage: ipa <command>');
    const wrong = spawnSync(process.execPath, [builtMain, 'serve'], { encoding: 'utf8' });
    expect(wrong.status).toBe(2);
    expect(wrong.stderr).toContain("unknown command 'serve'");
    const invalid = spawnSync(process.execPath, [builtMain, 'api'], {
      encoding: 'utf8',
      env: { PATH: process.env.PATH },
    });
    expect(invalid.status).toBe(2);
    expect(invalid.stderr.trim().split('\n')).toHaveLength(2);
  });
});

describe.skipIf(!existsSync(builtMain))(
  'ipa migrate, api and worker as processes (PostgreSQL + Redis)',
  () => {
    let database: Awaited<ReturnType<typeof freshPostgresDatabase>>;
    let env: NodeJS.ProcessEnv;
    let sandboxRoot: string;
    let childTmp: Awaited<ReturnType<typeof tempDirForChildren>>;
    const adminToken = `ipa_${'cli-test-admin-token-'.repeat(2)}`;

    beforeAll(async () => {
      database = await freshPostgresDatabase();
      sandboxRoot = await mkdtemp(path.join(os.tmpdir(), 'ipa-cli-proc-'));
      // A root worker's sandboxes run under unprivileged uids, which must traverse down to the root.
      await chmod(sandboxRoot, 0o711);
      childTmp = await tempDirForChildren();
      env = {
        PATH: process.env.PATH,
        TMPDIR: childTmp.path,
        DATABASE_URL: database.url,
        REDIS_URL: redisUrl,
        REDIS_PREFIX: freshRedisPrefix(),
        LOG_LEVEL: 'warn',
        SANDBOX_ROOT: sandboxRoot,
        IPA_ADMIN_TOKEN: adminToken,
        HOST: '127.0.0.1',
        PORT: '0',
      };
      const migrated = spawnSync(process.execPath, [builtMain, 'migrate'], { encoding: 'utf8', env });
      expect(migrated.status, migrated.stderr).toBe(0);
    });
    afterAll(async () => {
      await database?.drop();
      await rm(sandboxRoot, { recursive: true, force: true });
      await childTmp?.remove();
    });

    /** Starts a command, waits for the URL it prints, and returns it with a stop function. */
    async function start(command: 'api' | 'worker') {
      const child = spawn(process.execPath, [builtMain, command], { env, stdio: ['ignore', 'pipe', 'pipe'] });
      let text = '';
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      // The URL it prints, as soon as it prints it; its exit or a minute's silence fails the start.
      const url = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => {
          child.kill('SIGKILL');
          reject(new Error(`ipa ${command} did not start:\n${text}`));
        }, 60_000);
        const read = (d: string) => {
          text += d;
          const found = /(?:listening on|metrics on) (http:\/\/\S+)/.exec(text)?.[1];
          if (found) {
            clearTimeout(timer);
            resolve(found);
          }
        };
        child.stdout.setEncoding('utf8').on('data', read);
        child.stderr.setEncoding('utf8').on('data', read);
        // After its output is all in, so the message shows everything it said.
        child.once('close', (code) => {
          clearTimeout(timer);
          reject(new Error(`ipa ${command} exited ${code}:\n${text}`));
        });
      });
      return {
        url,
        async stop() {
          child.kill('SIGTERM');
          return exited;
        },
      };
    }

    it('api serves with the bootstrap admin token and exits 0 on SIGTERM', async () => {
      const api = await start('api');
      try {
        expect((await fetch(`${api.url}/health/ready`)).status).toBe(200);
        const me = await fetch(`${api.url}/api/v1/me`, {
          headers: { authorization: `Bearer ${adminToken}` },
        });
        expect(me.status).toBe(200);
        expect(await me.json()).toMatchObject({ user: { isAdmin: true } });
      } finally {
        expect(await api.stop()).toBe(0);
      }
    }, 90_000);

    it('worker is ready, reports its isolation level and exits 0 on SIGTERM', async () => {
      const worker = await start('worker');
      try {
        expect((await fetch(`${worker.url}/health/ready`)).status).toBe(200);
        const health = (await (await fetch(`${worker.url}/health`)).json()) as { isolation: string };
        expect(['bwrap', 'process']).toContain(health.isolation);
      } finally {
        expect(await worker.stop()).toBe(0);
      }
    }, 90_000);
  },
);
