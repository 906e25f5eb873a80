/**
 * Scenario 9 — the scale-out data path across Redis failovers: 2 APIs behind nginx and 2 workers,
 * PostgreSQL through PgBouncer (transaction pooling), file contents in an S3-compatible bucket,
 * Redis behind Sentinel (a primary, a replica, three sentinels). Under a steady load of scripts
 * that each read an uploaded file and write its hash to `outputs/`, with every stream followed
 * over SSE from its start, the primary is SIGKILLed (short: once; full: three times, the killed
 * server coming back as a replica in between). Pass: every execution ends exactly once and
 * succeeded, every stream ends with one terminal event, every written hash is right, a refused
 * submission is a JSON 503 (the client submits again), and no other request fails.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Cluster } from '../cluster.js';
import {
  type ApiClient,
  createUser,
  type FollowResult,
  followEvents,
  Recorder,
  randomFile,
  terminalTypes,
} from '../load.js';
import type { ScenarioContext, ScenarioResult } from './types.js';

const script = `const { createHash } = require('node:crypto');
const fs = require('node:fs');
const hash = createHash('sha256').update(fs.readFileSync('../uploads/seed.bin')).digest('hex');
fs.writeFileSync('../outputs/' + input.marker + '.sha256', hash);
console.log(input.marker, hash);
return { marker: input.marker };`;

interface Submitted {
  client: ApiClient;
  seed: string;
  marker: string;
  id: string;
  followed: Promise<FollowResult>;
}

export async function redisFailover({ short }: ScenarioContext): Promise<ScenarioResult> {
  const failovers = short ? 1 : 3;
  const cluster = new Cluster({
    apis: 2,
    workers: 2,
    scaleOut: true,
    env: { QUEUE_RECONCILE_INTERVAL_MS: '2000', QUEUE_RECONCILE_AGE_MS: '5000' },
  });
  const recorder = new Recorder();
  const problems: string[] = [];
  const started = Date.now();
  await cluster.start();
  try {
    const topology = cluster.sentinel!;
    const users = await Promise.all(
      Array.from({ length: 4 }, (_, i) =>
        createUser(cluster.url, cluster.adminToken, recorder, `failover-${i}`),
      ),
    );
    const seeds = new Map<ApiClient, string>();
    for (const client of users) {
      const seed = randomFile(48 * 1024);
      if (
        !(await client.call('PUT', '/files/uploads/seed.bin', undefined, { raw: seed.bytes, expect: [201] }))
      )
        throw new Error('could not upload the seed file');
      seeds.set(client, seed.sha256);
    }

    const submitted: Submitted[] = [];
    let refused = 0;
    let stop = false;
    const submitLoop = async (client: ApiClient, u: number) => {
      for (let n = 0; !stop; n++) {
        const marker = `f${u}-${n}`;
        const body = { language: 'javascript', code: script, input: { marker } };
        // A submission refused while the queue fails over is a JSON 503: submit it again.
        for (;;) {
          const created = await client.call('POST', '/executions', body, { expect: [202, 503] });
          if (created?.status === 503) {
            refused++;
            if ((created.json as { error?: unknown } | null)?.error === undefined)
              problems.push(`a 503 without a JSON error: ${created.bytes.toString().slice(0, 100)}`);
            await sleep(250);
            continue;
          }
          if (created) {
            const id = (created.json as { id: string }).id;
            submitted.push({
              client,
              seed: seeds.get(client)!,
              marker,
              id,
              followed: followEvents(client, id, 180_000),
            });
          }
          break;
        }
        await sleep(40);
      }
    };
    const load = users.map((client, u) => submitLoop(client, u));

    const killed: number[] = [];
    const newPrimaryAfterMs: number[] = [];
    for (let i = 0; i < failovers; i++) {
      await sleep(short ? 3000 : 8000);
      const before = Date.now();
      const port = await topology.killPrimary();
      killed.push(port);
      while ((await topology.currentPrimary().catch(() => port)) === port) await sleep(100);
      newPrimaryAfterMs.push(Date.now() - before);
      await sleep(short ? 3000 : 8000);
      // The next failover needs a replica to promote: the killed server comes back as one.
      if (i < failovers - 1) await topology.revive(port);
    }
    stop = true;
    await Promise.all(load);

    // Every stream, read from its start, ends once; every execution succeeded once.
    const results = await Promise.all(submitted.map((s) => s.followed));
    const byStatus: Record<string, number> = {};
    let wrongHashes = 0;
    let neverEnded = 0;
    let endedTwice = 0;
    for (const [i, s] of submitted.entries()) {
      const followed = results[i]!;
      problems.push(...followed.problems.map((p) => `${s.id}: ${p}`));
      if (followed.events.filter((e) => terminalTypes.has(e.type)).length > 1) endedTwice++;
      const row = await s.client.call('GET', `/executions/${s.id}`, undefined, { expect: [200] });
      const status = (row?.json as { status?: string } | undefined)?.status ?? 'unknown';
      byStatus[status] = (byStatus[status] ?? 0) + 1;
      if (status === 'queued' || status === 'running') neverEnded++;
      else if (status !== 'succeeded')
        problems.push(
          `${s.id} ended ${status}: ${JSON.stringify((row?.json as { error?: unknown })?.error)}`,
        );
      if (status !== 'succeeded') continue;
      const output = await s.client.call('GET', `/files/outputs/${s.marker}.sha256`, undefined, {
        expect: [200],
      });
      if (output?.bytes.toString() !== s.seed) wrongHashes++;
    }
    if (neverEnded > 0) problems.push(`${neverEnded} executions never ended`);
    if (endedTwice > 0) problems.push(`${endedTwice} streams ended more than once`);
    if (wrongHashes > 0) problems.push(`${wrongHashes} executions left a missing or wrong hash`);
    if (new Set(killed).size !== killed.length) problems.push('a killed server was primary twice in a row');

    // A stream reader told 503 (JSON) while the event log fails over reconnects with Last-Event-ID.
    const clear503 = (f: { detail: string }) => f.detail.startsWith('503 {"error"');
    const readsRefused = recorder.failures.filter((f) => f.what === 'GET events' && clear503(f)).length;
    const failures = recorder.failures.filter((f) => !(f.what === 'GET events' && clear503(f)));

    return {
      name: 'redis failover',
      passed: problems.length === 0 && failures.length === 0 && submitted.length > 0,
      figures: {
        failovers,
        executions: submitted.length,
        ...Object.fromEntries(Object.entries(byStatus).map(([k, v]) => [`status_${k}`, v])),
        neverEnded,
        endedTwice,
        wrongHashes,
        refusedSubmissions: refused,
        refusedStreamReads: readsRefused,
        newPrimaryAfterMs: newPrimaryAfterMs.join(' / '),
        streamReconnects: results.reduce((sum, r) => sum + r.reconnects, 0),
        failedRequests: failures.length,
        durationSeconds: Math.round((Date.now() - started) / 1000),
      },
      problems: [...failures.map((f) => `${f.what}: ${f.detail}`), ...problems].slice(0, 20),
    };
  } finally {
    await cluster.stop();
  }
}
