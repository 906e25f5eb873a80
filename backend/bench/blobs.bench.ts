/**
 * 25 MB upload and download through the API with each blob store (local directory, S3 on s3rver,
 * Azure Blob on Azurite), beside a direct SDK put/get of the same file: throughput, and the peak
 * RSS of this process (API + client) above its level before the transfer. The servers run as
 * child processes on loopback, so their memory is not counted.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { startApiServer } from '../src/api/index.js';
import { createAzureBlobStore } from '../src/blobs/azure.js';
import { type BlobStore, openLocalBlobStore } from '../src/blobs/index.js';
import { createS3BlobStore } from '../src/blobs/s3.js';
import { loadConfig } from '../src/config/index.js';
import { createLogger } from '../src/observability/logger.js';
import { createServices } from '../src/platform.js';
import { migrate, openDatabase } from '../src/store/index.js';
import { startAzurite } from '../test/support/blob-servers.js';
import { type BenchRow, printTable, runAlone } from './lib.js';

const size = 25 * 1024 * 1024;
const rounds = 3;

/** Runs `work` while sampling RSS every 5 ms; the peak above the level at the start. */
async function measured(work: () => Promise<void>): Promise<{ ms: number; rssPeakMb: number }> {
  global.gc?.();
  const base = process.memoryUsage.rss();
  let peak = base;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
  }, 5);
  const started = performance.now();
  await work();
  const elapsed = performance.now() - started;
  clearInterval(sampler);
  peak = Math.max(peak, process.memoryUsage.rss());
  return { ms: elapsed, rssPeakMb: (peak - base) / 2 ** 20 };
}

async function drain(stream: AsyncIterable<unknown>): Promise<number> {
  let bytes = 0;
  for await (const chunk of stream) bytes += (chunk as Buffer).length;
  return bytes;
}

async function startS3rverProcess(): Promise<{ endpoint: string; child: ChildProcess; dir: string }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'ipa-bench-s3-'));
  const script = `import S3rver from 's3rver';
const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: ${JSON.stringify(dir)} });
const { port } = await server.run();
console.log('port=' + port);`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
    cwd: path.resolve(import.meta.dirname, '..'),
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout?.on('data', (chunk: Buffer) => {
      const match = /port=(\d+)/.exec(chunk.toString());
      if (match) resolve(Number(match[1]));
    });
    child.once('exit', (code) => reject(new Error(`s3rver exited ${code}`)));
  });
  return { endpoint: `http://127.0.0.1:${port}`, child, dir };
}

const mbps = (ms: number) => `${(size / 2 ** 20 / (ms / 1000)).toFixed(0)} MB/s`;
const best = (values: number[]) => Math.min(...values);
const worst = (values: number[]) => Math.max(...values);

async function viaApi(name: string, blobs: BlobStore, dataDir: string): Promise<BenchRow[]> {
  const config = loadConfig('standalone', {
    DATA_DIR: dataDir,
    LOG_LEVEL: 'silent',
    MAX_UPLOAD_BYTES: String(size),
    USER_QUOTA_BYTES: String(size * 4),
    RATE_LIMIT_PER_MINUTE: '100000',
  });
  const db = await openDatabase({ kind: 'pglite' });
  await migrate(db);
  const services = await createServices(config, { logger: createLogger('silent'), database: db, blobs });
  const server = await startApiServer(services, { host: '127.0.0.1', port: 0 });
  try {
    const user = await services.store.users.create({ name: 'bench' });
    const { token } = await services.store.tokens.issue(user.id, 'bench');
    const headers = { authorization: `Bearer ${token}` };
    const up: number[] = [];
    const down: number[] = [];
    const upRss: number[] = [];
    const downRss: number[] = [];
    for (let i = 0; i < rounds; i++) {
      const content = randomBytes(size);
      const url = `${server.url}/api/v1/files/uploads/big-${i}.bin`;
      const put = await measured(async () => {
        const response = await fetch(url, { method: 'PUT', headers, body: content });
        if (response.status !== 201) throw new Error(`upload answered ${response.status}`);
        await response.arrayBuffer();
      });
      const get = await measured(async () => {
        const response = await fetch(url, { headers });
        if (!response.body || (await drain(response.body as unknown as AsyncIterable<unknown>)) !== size)
          throw new Error('download was short');
      });
      up.push(put.ms);
      down.push(get.ms);
      upRss.push(put.rssPeakMb);
      downRss.push(get.rssPeakMb);
    }
    return [
      { metric: `${name}: API upload`, ours: mbps(best(up)), baseline: '', goal: '' },
      { metric: `${name}: API download`, ours: mbps(best(down)), baseline: '', goal: '' },
      {
        metric: `${name}: RSS peak up / down`,
        ours: `${worst(upRss).toFixed(0)} / ${worst(downRss).toFixed(0)} MB`,
        baseline: '',
        goal: '',
      },
    ];
  } finally {
    await server.app.close();
    await services.close();
  }
}

async function direct(name: string, blobs: BlobStore): Promise<{ up: number; down: number; rss: string }> {
  const up: number[] = [];
  const down: number[] = [];
  const rss: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const content = randomBytes(size);
    const hash = (await import('node:crypto')).createHash('sha256').update(content).digest('hex');
    const put = await measured(() => blobs.put(hash, content));
    const get = await measured(async () => {
      const stream = await blobs.stream(hash);
      if (!stream || (await drain(stream)) !== size) throw new Error(`${name}: short read`);
    });
    up.push(put.ms);
    down.push(get.ms);
    rss.push(put.rssPeakMb, get.rssPeakMb);
    await blobs.delete(hash);
  }
  return { up: best(up), down: best(down), rss: `${worst(rss).toFixed(0)} MB` };
}

async function main(): Promise<void> {
  const dir = await mkdtemp(path.join(tmpdir(), 'ipa-bench-blobs-'));
  const s3 = await startS3rverProcess();
  const azurite = await startAzurite('ipa-bench');
  try {
    const s3Options = {
      bucket: 'ipa-bench',
      prefix: '',
      region: 'us-east-1',
      endpoint: s3.endpoint,
      forcePathStyle: true,
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    };
    const admin = createS3BlobStore(s3Options);
    await admin.client.send(new CreateBucketCommand({ Bucket: 'ipa-bench' }));
    const stores: [string, () => Promise<BlobStore>][] = [
      ['local', () => openLocalBlobStore(path.join(dir, 'blobs'))],
      ['S3 (s3rver)', async () => createS3BlobStore(s3Options)],
      ['Azure (Azurite)', async () => createAzureBlobStore(azurite.options)],
    ];
    const rows: BenchRow[] = [];
    for (const [name, open] of stores) {
      const baseline = await direct(name, await open());
      const api = await viaApi(name, await open(), path.join(dir, name.split(' ')[0]!));
      api[0]!.baseline = `SDK put ${mbps(baseline.up)}`;
      api[1]!.baseline = `SDK get ${mbps(baseline.down)}`;
      api[2]!.baseline = `SDK ${baseline.rss}`;
      rows.push(...api);
    }
    printTable(`25 MB file, best of ${rounds} (RSS: worst, above the level before)`, rows);
  } finally {
    s3.child.kill('SIGTERM');
    await azurite.stop();
    await rm(s3.dir, { recursive: true, force: true });
    await rm(dir, { recursive: true, force: true });
  }
}

await runAlone(async () => {
  await main();
  return undefined;
});
