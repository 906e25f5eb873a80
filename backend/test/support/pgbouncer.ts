import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chmod, chown, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { postgresAdminUrl } from './services.js';

/** A port nobody listens on right now (PgBouncer cannot be told to pick one itself). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export interface RunningPgBouncer {
  /** postgres:// URL of PgBouncer; the database name is forwarded as given. */
  url: string;
  stop(): Promise<void>;
}

/**
 * Debian's `pgbouncer` in transaction pooling mode on a free loopback port, forwarding every
 * database to the test PostgreSQL with trust authentication. Few server connections, so clients
 * really share them: session state left on one would reach another client.
 */
export async function startPgBouncer(
  options: {
    poolSize?: number;
    /** postgres:// URL of the server it pools for; by default the test PostgreSQL. */
    target?: string;
  } = {},
): Promise<RunningPgBouncer> {
  const target = new URL(options.target ?? postgresAdminUrl);
  const user = decodeURIComponent(target.username || 'postgres');
  const dir = await mkdtemp(path.join(tmpdir(), 'ipa-pgbouncer-'));
  const port = await freePort();
  const config = path.join(dir, 'pgbouncer.ini');
  const log = path.join(dir, 'pgbouncer.log');
  await writeFile(path.join(dir, 'users.txt'), `"${user}" ""\n`);
  await writeFile(
    config,
    [
      '[databases]',
      `* = host=${target.hostname} port=${target.port || 5432}`,
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${port}`,
      'unix_socket_dir =',
      'auth_type = trust',
      `auth_file = ${path.join(dir, 'users.txt')}`,
      'pool_mode = transaction',
      'max_client_conn = 1000',
      `default_pool_size = ${options.poolSize ?? 6}`,
      'ignore_startup_parameters = extra_float_digits',
      `logfile = ${log}`,
      `pidfile = ${path.join(dir, 'pgbouncer.pid')}`,
      '',
    ].join('\n'),
  );
  for (const file of ['pgbouncer.ini', 'users.txt']) await chmod(path.join(dir, file), 0o644);
  // PgBouncer refuses to run as root; the PostgreSQL package's system user is there to run it as.
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
    await chown(dir, uid, gid);
  }
  const child: ChildProcess = spawn('pgbouncer', asRoot ? ['-u', 'postgres', config] : [config], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const url = `postgres://${encodeURIComponent(user)}@127.0.0.1:${port}/postgres`;
  const deadline = Date.now() + 15_000;
  for (;;) {
    const client = new pg.Client({ connectionString: url });
    try {
      await client.connect();
      await client.query('SELECT 1');
      await client.end();
      break;
    } catch (err) {
      await client.end().catch(() => {});
      if (child.exitCode !== null || Date.now() > deadline) {
        const logged = await readFile(log, 'utf8').catch(() => '');
        child.kill('SIGKILL');
        await rm(dir, { recursive: true, force: true });
        throw new Error(`PgBouncer did not start: ${(err as Error).message}\n${stderr}\n${logged}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  return {
    url,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGINT');
        await exited;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}
