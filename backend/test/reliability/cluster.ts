/**
 * A local multi-instance platform made of real processes: its own PostgreSQL cluster and Redis
 * server (so faults can be injected without touching anyone else's), 2+ API processes behind
 * nginx, and 2+ worker processes. Rollouts follow Kubernetes' order: start the new instance, wait
 * for /health/ready, add it to the balancer, take the old one out, wait the preStop delay, send
 * SIGTERM, wait for the exit.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  appendFileSync,
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { startS3Server } from '../support/blob-servers.js';
import { type RunningPgBouncer, startPgBouncer } from '../support/pgbouncer.js';
import { type SentinelTopology, startSentinelTopology } from '../support/redis-sentinel.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const mainJs = path.join(repo, 'backend/dist/main.js');

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function waitUntil(what: string, probe: () => Promise<boolean>, timeoutMs: number): Promise<number> {
  const started = Date.now();
  while (Date.now() - started < timeoutMs) {
    if (await probe().catch(() => false)) return Date.now() - started;
    await sleep(50);
  }
  throw new Error(`${what} not reached within ${timeoutMs} ms`);
}

async function httpOk(url: string): Promise<boolean> {
  const response = await fetch(url, { signal: AbortSignal.timeout(1000) });
  await response.body?.cancel();
  return response.ok;
}

/** A PostgreSQL cluster of our own, run as the postgres user, that can be stopped and started. */
class PostgresServer {
  readonly port: number;
  private readonly dir: string;
  private readonly bin: string;

  constructor(port: number, root: string) {
    this.port = port;
    this.dir = path.join(root, 'pg');
    const version = readdirSync('/usr/lib/postgresql').sort().at(-1);
    this.bin = `/usr/lib/postgresql/${version}/bin`;
  }

  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`;
  }

  private pgctl(...args: string[]): void {
    execFileSync('runuser', ['-u', 'postgres', '--', `${this.bin}/pg_ctl`, '-D', this.dir, ...args], {
      stdio: 'ignore',
    });
  }

  async init(): Promise<void> {
    mkdirSync(this.dir, { recursive: true });
    execFileSync('chown', ['-R', 'postgres:postgres', path.dirname(this.dir)]);
    execFileSync(
      'runuser',
      ['-u', 'postgres', '--', `${this.bin}/initdb`, '-D', this.dir, '-A', 'trust', '-U', 'postgres'],
      {
        stdio: 'ignore',
      },
    );
    await this.start();
  }

  async start(): Promise<void> {
    this.pgctl(
      '-l',
      path.join(this.dir, 'server.log'),
      '-o',
      `-p ${this.port} -k ${this.dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c max_connections=300`,
      '-w',
      'start',
    );
  }

  async stop(): Promise<void> {
    this.pgctl('-m', 'fast', '-w', 'stop');
  }

  async destroy(): Promise<void> {
    try {
      await this.stop();
    } catch {
      // already stopped
    }
  }
}

/** A Redis server of our own on its own port. */
class RedisServer {
  private process: ChildProcess | undefined;
  constructor(readonly port: number) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}/0`;
  }

  async start(): Promise<void> {
    this.process = spawn(
      'redis-server',
      [
        '--port',
        String(this.port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        '--maxclients',
        '20000',
      ],
      { stdio: 'ignore' },
    );
    await waitUntil(
      'redis up',
      async () => {
        try {
          execFileSync('redis-cli', ['-p', String(this.port), 'ping'], { stdio: 'ignore' });
          return true;
        } catch {
          return false;
        }
      },
      10_000,
    );
  }

  async stop(): Promise<void> {
    const child = this.process;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  }
}

/** nginx as the load balancer in front of the API instances (SSE buffering off). */
class LoadBalancer {
  private process: ChildProcess | undefined;
  private readonly dir: string;

  constructor(
    readonly port: number,
    root: string,
  ) {
    this.dir = path.join(root, 'nginx');
    mkdirSync(path.join(this.dir, 'logs'), { recursive: true });
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  private write(upstreams: number[]): void {
    const servers = upstreams.map((p) => `    server 127.0.0.1:${p} max_fails=0;`).join('\n');
    writeFileSync(
      path.join(this.dir, 'nginx.conf'),
      `worker_processes 2;
pid ${this.dir}/nginx.pid;
error_log ${this.dir}/logs/error.log warn;
worker_rlimit_nofile 30000;
events { worker_connections 24000; }
http {
  access_log off;
  client_body_temp_path ${this.dir}/body;
  proxy_temp_path ${this.dir}/proxy;
  client_max_body_size 64m;
  # Clients reconnect for each request: a reload never closes a connection under a request.
  keepalive_timeout 0;
  upstream api {
${servers}
    keepalive 64;
  }
  server {
    listen 127.0.0.1:${this.port};
    location / {
      proxy_pass http://api;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_buffering off;
      proxy_request_buffering off;
      proxy_read_timeout 3600s;
      proxy_next_upstream error timeout;
      proxy_next_upstream_tries 3;
    }
  }
}
`,
    );
  }

  async start(upstreams: number[]): Promise<void> {
    this.write(upstreams);
    this.process = spawn(
      'nginx',
      ['-p', this.dir, '-c', path.join(this.dir, 'nginx.conf'), '-g', 'daemon off;'],
      {
        stdio: 'ignore',
      },
    );
    await waitUntil('nginx up', () => httpOk(`${this.url}/health/live`), 10_000);
  }

  /** Graceful reconfiguration: old nginx workers finish their open connections. */
  async route(upstreams: number[]): Promise<void> {
    this.write(upstreams);
    this.process?.kill('SIGHUP');
    await sleep(200);
  }

  async stop(): Promise<void> {
    const child = this.process;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGQUIT');
    await Promise.race([exited, sleep(5000)]);
    if (child.exitCode === null) child.kill('SIGKILL');
  }
}

export interface Instance {
  role: 'api' | 'worker';
  name: string;
  port: number;
  process: ChildProcess;
  exited: Promise<number | null>;
  stderr: string[];
}

export interface ClusterOptions {
  apis?: number;
  workers?: number;
  /** Environment added to every platform process (model endpoint, limits). */
  env?: Record<string, string>;
  preStopMs?: number;
  /**
   * The scale-out data path: Redis behind Sentinel (a primary, a replica, three sentinels)
   * instead of one server, PostgreSQL through PgBouncer in transaction mode, and file contents
   * in an S3-compatible bucket (s3rver) shared by every instance.
   */
  scaleOut?: boolean;
}

/** Clusters that are running, so an interrupted run can still stop them (see `stopAllClusters`). */
const live = new Set<Cluster>();

/** Stops every running cluster: for SIGINT/SIGTERM of the harness, so nothing is left behind. */
export async function stopAllClusters(): Promise<void> {
  await Promise.all([...live].map((cluster) => cluster.stop().catch(() => undefined)));
}

export class Cluster {
  readonly root = mkdtempSync(path.join(os.tmpdir(), 'ipa-reliability-'));
  readonly adminToken = `ipa_reliability_${randomBytes(18).toString('hex')}`;
  readonly apis: Instance[] = [];
  readonly workers: Instance[] = [];
  postgres!: PostgresServer;
  redis?: RedisServer;
  sentinel?: SentinelTopology;
  private pgbouncer?: RunningPgBouncer;
  private s3?: Awaited<ReturnType<typeof startS3Server>>;
  private scaleOutEnv: Record<string, string> = {};
  balancer!: LoadBalancer;
  private serial = 0;

  constructor(private readonly options: ClusterOptions = {}) {
    chmodSync(this.root, 0o755);
    // Every instance's TMPDIR: a SIGKILLed worker cannot remove its egress socket folder itself.
    mkdirSync(path.join(this.root, 'tmp'), { mode: 0o711 });
  }

  get url(): string {
    return this.balancer.url;
  }

  get databaseUrl(): string {
    return this.postgres.url.replace(/\/postgres$/, '/ipa');
  }

  private env(port: number, name: string): NodeJS.ProcessEnv {
    return {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      NODE_ENV: 'production',
      LOG_LEVEL: 'warn',
      PORT: String(port),
      HOST: '127.0.0.1',
      DATABASE_URL: this.databaseUrl,
      REDIS_URL: this.redis?.url ?? '',
      IPA_ADMIN_TOKEN: this.adminToken,
      DATA_DIR: path.join(this.root, name),
      TMPDIR: path.join(this.root, 'tmp'),
      SANDBOX_ROOT: path.join(this.root, name, 'sandbox'),
      RATE_LIMIT_PER_MINUTE: '1000000',
      USER_CONCURRENCY: '100',
      SHUTDOWN_GRACE_SECONDS: '10',
      WORKER_GRACE_SECONDS: '10',
      QUEUE_STALLED_INTERVAL_MS: '3000',
      ...this.scaleOutEnv,
      ...this.options.env,
    };
  }

  /** Starts everything; on failure whatever did start is stopped again, so nothing is left running. */
  async start(): Promise<void> {
    if (!existsSync(mainJs)) throw new Error('backend/dist/main.js is missing: run npm run build first');
    live.add(this);
    try {
      await this.startAll();
    } catch (error) {
      await this.stop();
      throw error;
    }
  }

  private async startAll(): Promise<void> {
    this.postgres = new PostgresServer(await freePort(), this.root);
    await this.postgres.init();
    execFileSync('runuser', [
      '-u',
      'postgres',
      '--',
      'createdb',
      '-h',
      '127.0.0.1',
      '-p',
      String(this.postgres.port),
      'ipa',
    ]);
    if (this.options.scaleOut) {
      this.sentinel = await startSentinelTopology();
      this.pgbouncer = await startPgBouncer({ target: this.postgres.url, poolSize: 8 });
      this.s3 = await startS3Server('ipa-reliability');
      const s3 = this.s3.options;
      this.scaleOutEnv = {
        // Only password, database and TLS come from the URL; the host is the sentinels' answer.
        REDIS_URL: 'redis://sentinel-named-primary:6379/0',
        REDIS_SENTINELS: this.sentinel.sentinels,
        REDIS_SENTINEL_MASTER: this.sentinel.masterName,
        DATABASE_URL: this.pgbouncer.url.replace(/\/postgres$/, '/ipa'),
        // Debian's PgBouncer (1.18) cannot carry prepared statements in transaction mode.
        DATABASE_PREPARED_STATEMENTS: 'false',
        BLOB_STORE: 's3',
        BLOB_S3_BUCKET: s3.bucket,
        BLOB_S3_ENDPOINT: s3.endpoint ?? '',
        BLOB_S3_FORCE_PATH_STYLE: 'true',
        BLOB_S3_ACCESS_KEY_ID: s3.credentials?.accessKeyId ?? '',
        BLOB_S3_SECRET_ACCESS_KEY: s3.credentials?.secretAccessKey ?? '',
      };
    } else {
      this.redis = new RedisServer(await freePort());
      await this.redis.start();
    }
    execFileSync(process.execPath, [mainJs, 'migrate'], {
      env: this.env(0, 'migrate'),
      stdio: 'inherit',
    });
    for (let i = 0; i < (this.options.apis ?? 2); i++) this.apis.push(await this.spawn('api'));
    for (let i = 0; i < (this.options.workers ?? 2); i++) this.workers.push(await this.spawn('worker'));
    this.balancer = new LoadBalancer(await freePort(), this.root);
    await this.balancer.start(this.apis.map((a) => a.port));
  }

  /** Starts one instance (not added to the balancer); `env` is added to this instance's environment only. */
  async spawn(role: 'api' | 'worker', env: Record<string, string> = {}): Promise<Instance> {
    const port = await freePort();
    const name = `${role}-${++this.serial}`;
    const child = spawn(process.execPath, [mainJs, role], {
      env: { ...this.env(port, name), ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const stderr: string[] = [];
    // RELIABILITY_LOG_DIR keeps every instance's log for a post-mortem (the root is removed).
    const logDir = process.env.RELIABILITY_LOG_DIR;
    if (logDir) mkdirSync(logDir, { recursive: true });
    // The log (pino writes to stdout) and stderr: the last lines are kept for error messages.
    const keep = (chunk: Buffer) => {
      if (logDir) appendFileSync(path.join(logDir, `${path.basename(this.root)}-${name}.log`), chunk);
      stderr.push(chunk.toString());
      if (stderr.length > 200) stderr.shift();
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const instance: Instance = { role, name, port, process: child, exited, stderr };
    await waitUntil(`${name} ready`, () => httpOk(`http://127.0.0.1:${port}/health/ready`), 90_000).catch(
      (error: Error) => {
        child.kill('SIGKILL');
        throw new Error(`${error.message}\n${stderr.join('')}`);
      },
    );
    return instance;
  }

  /** Stops an instance the way Kubernetes does and returns its exit code. */
  async terminate(instance: Instance): Promise<number | null> {
    instance.process.kill('SIGTERM');
    const code = await Promise.race([instance.exited, sleep(60_000).then(() => 'timeout' as const)]);
    if (code === 'timeout') {
      instance.process.kill('SIGKILL');
      throw new Error(`${instance.name} did not exit within 60 s of SIGTERM`);
    }
    return code;
  }

  /** Replaces one instance: new up and ready → in the balancer → old out → preStop → SIGTERM → exit. */
  async roll(old: Instance): Promise<{ exitCode: number | null }> {
    const list = old.role === 'api' ? this.apis : this.workers;
    const fresh = await this.spawn(old.role);
    list.push(fresh);
    list.splice(list.indexOf(old), 1);
    if (old.role === 'api') await this.balancer.route(this.apis.map((a) => a.port));
    await sleep(this.options.preStopMs ?? 1000);
    return { exitCode: await this.terminate(old) };
  }

  /** SIGKILL, as when a node dies; returns at once. */
  kill(instance: Instance): void {
    instance.process.kill('SIGKILL');
    const list = instance.role === 'api' ? this.apis : this.workers;
    list.splice(list.indexOf(instance), 1);
  }

  async restartRedis(downMs: number): Promise<void> {
    if (!this.redis) throw new Error('this cluster runs Redis behind Sentinel');
    await this.redis.stop();
    await sleep(downMs);
    await this.redis.start();
  }

  async restartPostgres(downMs: number): Promise<void> {
    await this.postgres.stop();
    await sleep(downMs);
    await this.postgres.start();
  }

  async stop(): Promise<void> {
    live.delete(this);
    await Promise.all([...this.apis, ...this.workers].map((i) => this.terminate(i).catch(() => undefined)));
    await this.balancer?.stop();
    await this.redis?.stop();
    await this.sentinel?.stop();
    await this.s3?.stop();
    await this.pgbouncer?.stop();
    await this.postgres?.destroy();
    rmSync(this.root, { recursive: true, force: true });
  }
}
