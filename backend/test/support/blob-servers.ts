import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { BlobServiceClient } from '@azure/storage-blob';
import S3rver from 's3rver';
import type { AzureBlobStoreOptions } from '../../src/blobs/azure.js';
import type { S3BlobStoreOptions } from '../../src/blobs/s3.js';
import { createS3BlobStore } from '../../src/blobs/s3.js';

/**
 * Real blob servers from npm, on loopback ports the system picks: s3rver (an S3-compatible
 * server) in this process and Azurite (Microsoft's Azure Storage emulator) as a child process.
 */

export interface RunningServer<Options> {
  options: Options;
  stop(): Promise<void>;
}

/** s3rver accepts its own well-known development key pair. */
const s3Credentials = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

export async function startS3Server(bucket = 'ipa-test'): Promise<RunningServer<S3BlobStoreOptions>> {
  const directory = await mkdtemp(path.join(tmpdir(), 'ipa-s3rver-'));
  const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory });
  const { port } = (await server.run()) as { port: number };
  const options: S3BlobStoreOptions = {
    bucket,
    prefix: 'ipa/',
    region: 'us-east-1',
    endpoint: `http://127.0.0.1:${port}`,
    forcePathStyle: true,
    credentials: s3Credentials,
  };
  const admin = createS3BlobStore(options);
  await admin.client.send(new CreateBucketCommand({ Bucket: bucket }));
  await admin.close();
  return {
    options,
    async stop() {
      await server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}

/** Azurite's fixed development account. */
const devAccount = 'devstoreaccount1';
const devKey = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

export async function startAzurite(container = 'ipa-test'): Promise<RunningServer<AzureBlobStoreOptions>> {
  const require = createRequire(import.meta.url);
  const entry = path.join(path.dirname(require.resolve('azurite/package.json')), 'dist/src/blob/main.js');
  const child: ChildProcess = spawn(
    process.execPath,
    [
      entry,
      '--blobHost',
      '127.0.0.1',
      '--blobPort',
      '0',
      '--inMemoryPersistence',
      '--skipApiVersionCheck',
      '--loose',
      '--disableTelemetry',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const port = await new Promise<number>((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => reject(new Error(`Azurite did not start: ${output}`)), 60_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /listens on http:\/\/127\.0\.0\.1:(\d+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`Azurite exited (${code}): ${output}`));
    });
  });
  const connectionString =
    `DefaultEndpointsProtocol=http;AccountName=${devAccount};AccountKey=${devKey};` +
    `BlobEndpoint=http://127.0.0.1:${port}/${devAccount};`;
  await BlobServiceClient.fromConnectionString(connectionString)
    .getContainerClient(container)
    .createIfNotExists();
  return {
    options: { connectionString, container, prefix: 'ipa/' },
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    },
  };
}
