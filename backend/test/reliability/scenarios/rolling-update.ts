/**
 * Scenario 2 — rolling update under load: clients create script and agent executions, follow
 * their event streams, upload and download files, while every API and worker instance is rolled
 * twice. Pass: no failed request, no execution lost or stuck, every stream exactly-once and in
 * order (after Last-Event-ID reconnects), every file intact.
 */
import { Cluster, sleep } from '../cluster.js';
import {
  type ApiClient,
  createUser,
  finalAttemptOutput,
  followEvents,
  Recorder,
  randomFile,
  scriptWorkload,
  sha256,
} from '../load.js';
import type { ScenarioContext, ScenarioResult } from './types.js';

export async function rollingUpdate({ short, modelUrl }: ScenarioContext): Promise<ScenarioResult> {
  const durationMs = short ? 45_000 : 130_000;
  const cluster = new Cluster({
    apis: 2,
    workers: 2,
    env: { ANTHROPIC_API_KEY: 'fake-key', ANTHROPIC_BASE_URL: `${modelUrl}/v1`, MODEL_PROVIDER: 'anthropic' },
  });
  const recorder = new Recorder();
  const problems: string[] = [];
  const counts = { scripts: 0, agentTurns: 0, files: 0, reconnects: 0, rolls: 0 };
  await cluster.start();
  try {
    const users = await Promise.all(
      [0, 1, 2].map((i) => createUser(cluster.url, cluster.adminToken, recorder, `roll-${i}`)),
    );
    let stop = false;

    const script = async (client: ApiClient, lines = 5, gapMs = 0) => {
      const work = scriptWorkload(lines, gapMs);
      const created = await client.call('POST', '/executions', work.body, { expect: [202] });
      if (!created) return;
      const id = (created.json as { id: string }).id;
      const followed = await followEvents(client, id, 60_000);
      counts.scripts++;
      counts.reconnects += followed.reconnects;
      problems.push(...followed.problems.map((p) => `script ${id}: ${p}`));
      if (followed.terminal?.type !== 'execution.completed') {
        problems.push(
          `script ${id} ended ${followed.terminal?.type ?? 'never'} ${JSON.stringify(followed.terminal?.data ?? {})}`,
        );
      } else if (finalAttemptOutput(followed.events) !== work.expected) {
        problems.push(`script ${id}: output differs: ${JSON.stringify(finalAttemptOutput(followed.events))}`);
      }
    };

    const agentTurn = async (client: ApiClient, sessionId: string) => {
      const posted = await client.call(
        'POST',
        `/sessions/${sessionId}/messages`,
        { text: `hello ${counts.agentTurns}` },
        { expect: [202] },
      );
      if (!posted) return;
      const id = (posted.json as { execution: { id: string } }).execution.id;
      const followed = await followEvents(client, id, 60_000);
      counts.agentTurns++;
      counts.reconnects += followed.reconnects;
      problems.push(...followed.problems.map((p) => `agent ${id}: ${p}`));
      if (followed.terminal?.type !== 'execution.completed') {
        problems.push(
          `agent ${id} ended ${followed.terminal?.type ?? 'never'} ${JSON.stringify(followed.terminal?.data ?? {})}`,
        );
      }
    };

    const fileRoundTrip = async (client: ApiClient, n: number) => {
      const file = randomFile(64 * 1024 + n);
      const path = `uploads/roll-${n}.bin`;
      if (!(await client.call('PUT', `/files/${path}`, undefined, { raw: file.bytes, expect: [201] })))
        return;
      const back = await client.call('GET', `/files/${path}`, undefined, { expect: [200] });
      counts.files++;
      if (back && sha256(back.bytes) !== file.sha256) problems.push(`file ${path} corrupted`);
    };

    const clients = users.map(async (client, index) => {
      const session = await client.call(
        'POST',
        '/sessions',
        { title: `rolling ${index}` },
        { expect: [201] },
      );
      const sessionId = (session?.json as { id: string } | undefined)?.id;
      let n = 0;
      while (!stop) {
        n++;
        const pick = n % 3;
        if (pick === 0) await script(client);
        else if (pick === 1 && sessionId) await agentTurn(client, sessionId);
        else await fileRoundTrip(client, index * 100_000 + n);
      }
    });

    // One client always follows a long, slowly printing execution (about 10 s), so every API
    // roll ends a live stream and the Last-Event-ID resume path is exercised, not just possible.
    const longStreams = (async () => {
      const client = users[0]!;
      while (!stop) await script(client, 40, 250);
    })();

    const roller = (async () => {
      await sleep(3000);
      for (let round = 0; round < 2; round++) {
        for (const api of [...cluster.apis]) {
          const { exitCode } = await cluster.roll(api);
          counts.rolls++;
          if (exitCode !== 0) problems.push(`${api.name} exited ${exitCode} after SIGTERM`);
        }
        for (const worker of [...cluster.workers]) {
          const { exitCode } = await cluster.roll(worker);
          counts.rolls++;
          if (exitCode !== 0) problems.push(`${worker.name} exited ${exitCode} after SIGTERM`);
        }
      }
    })();

    const started = Date.now();
    await roller;
    await sleep(Math.max(0, durationMs - (Date.now() - started)));
    stop = true;
    await Promise.all([...clients, longStreams]);

    const summary = recorder.summary();
    return {
      name: 'rolling update under load',
      passed: recorder.failures.length === 0 && problems.length === 0 && counts.rolls === 8,
      figures: {
        durationSeconds: Math.round((Date.now() - started) / 1000),
        rolls: counts.rolls,
        requests: summary.requests,
        failedRequests: summary.failures,
        p50Ms: summary.p50Ms,
        p99Ms: summary.p99Ms,
        scriptExecutions: counts.scripts,
        agentTurns: counts.agentTurns,
        fileRoundTrips: counts.files,
        sseReconnects: counts.reconnects,
        streamProblems: problems.length,
      },
      problems: [...recorder.failures.map((f) => `${f.what}: ${f.detail}`), ...problems].slice(0, 20),
    };
  } finally {
    await cluster.stop();
  }
}
