import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { freePort } from './pgbouncer.js';

/**
 * Debian's `redis-server` and `redis-sentinel` on free loopback ports: a primary, a replica and
 * three sentinels (quorum 2) watching them, all started and stopped by the test. Sentinels notice
 * a dead primary after one second and promote the replica.
 */
export interface SentinelTopology {
  masterName: string;
  /** host:port,host:port,host:port as REDIS_SENTINELS takes it. */
  sentinels: string;
  primaryPort: number;
  /** Kills the current primary outright (SIGKILL: no shutdown, no last writes). */
  killPrimary(): Promise<number>;
  /** Port of the primary the sentinels name now. */
  currentPrimary(): Promise<number>;
  /** Starts a killed server again as a replica of the current primary (the sentinels adopt it). */
  revive(port: number): Promise<void>;
  stop(): Promise<void>;
}

const masterName = 'ipatest';

function run(command: string, args: string[]): ChildProcess {
  return spawn(command, args, { stdio: ['ignore', 'ignore', 'ignore'] });
}

/**
 * Polls until `probe` gives a value. Not `vi.waitFor`: the reliability harness starts this
 * topology outside vitest, where vitest's helpers cannot run.
 */
async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

async function ask<T>(port: number, command: (client: Redis) => Promise<T>): Promise<T> {
  const client = new Redis({
    host: '127.0.0.1',
    port,
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  client.on('error', () => {});
  try {
    await client.connect();
    return await command(client);
  } finally {
    client.disconnect();
  }
}

export async function startSentinelTopology(): Promise<SentinelTopology> {
  const dir = await mkdtemp(path.join(tmpdir(), 'ipa-sentinel-'));
  const processes = new Map<number, ChildProcess>();
  const server = (port: number, extra: string[] = []) => {
    processes.set(
      port,
      run('redis-server', [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        '--dir',
        dir,
        '--dbfilename',
        `dump-${port}.rdb`,
        ...extra,
      ]),
    );
  };
  try {
    const primaryPort = await freePort();
    const replicaPort = await freePort();
    server(primaryPort);
    await waitFor('the primary', () => ask(primaryPort, (c) => c.ping()));
    server(replicaPort, ['--replicaof', '127.0.0.1', String(primaryPort)]);
    await waitFor('the replica to sync', async () => {
      const info = await ask(replicaPort, (c) => c.info('replication'));
      return info.includes('master_link_status:up') ? true : undefined;
    });
    const sentinelPorts: number[] = [];
    for (let i = 0; i < 3; i++) {
      const port = await freePort();
      const config = path.join(dir, `sentinel-${port}.conf`);
      await writeFile(
        config,
        [
          `port ${port}`,
          'bind 127.0.0.1',
          `dir ${dir}`,
          `sentinel monitor ${masterName} 127.0.0.1 ${primaryPort} 2`,
          `sentinel down-after-milliseconds ${masterName} 1000`,
          `sentinel failover-timeout ${masterName} 5000`,
          `sentinel parallel-syncs ${masterName} 1`,
          '',
        ].join('\n'),
      );
      processes.set(port, run('redis-sentinel', [config]));
      sentinelPorts.push(port);
    }
    for (const port of sentinelPorts) {
      await waitFor('the sentinels to see the replica and each other', async () => {
        const replicas = (await ask(port, (c) => c.call('SENTINEL', 'REPLICAS', masterName))) as unknown[];
        const others = (await ask(port, (c) => c.call('SENTINEL', 'SENTINELS', masterName))) as unknown[];
        return replicas.length >= 1 && others.length >= 2 ? true : undefined;
      });
    }
    const currentPrimary = async () => {
      const [, port] = (await ask(sentinelPorts[0]!, (c) =>
        c.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', masterName),
      )) as [string, string];
      return Number(port);
    };
    return {
      masterName,
      sentinels: sentinelPorts.map((port) => `127.0.0.1:${port}`).join(','),
      primaryPort,
      currentPrimary,
      async killPrimary() {
        const port = await currentPrimary();
        const child = processes.get(port);
        if (!child) throw new Error('no primary to kill');
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGKILL');
        await exited;
        processes.delete(port);
        return port;
      },
      async revive(port) {
        if (processes.has(port)) throw new Error(`redis on port ${port} is running`);
        server(port, ['--replicaof', '127.0.0.1', String(await currentPrimary())]);
        await waitFor('the revived replica to sync', async () => {
          const info = await ask(port, (c) => c.info('replication'));
          return info.includes('master_link_status:up') ? true : undefined;
        });
      },
      async stop() {
        await stopAll(processes);
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await stopAll(processes);
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

async function stopAll(processes: Map<number, ChildProcess>): Promise<void> {
  await Promise.all(
    [...processes.values()].map((child) => {
      if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      return exited;
    }),
  );
  processes.clear();
}
