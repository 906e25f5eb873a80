/**
 * Scenario 4 — dependency faults under load: restart Redis, then PostgreSQL, then block the model
 * endpoint. Pass: readiness reports each fault within 5 s and recovery by itself; processes stay
 * up; requests during a fault get a clear 503 (or succeed) within the client timeout, never a
 * hang or another 5xx; everything stored before the faults is intact afterwards.
 */
import { createServer, type Server } from 'node:http';
import { Cluster, type Instance, sleep } from '../cluster.js';
import { createUser, followEvents, Recorder, randomFile, sha256 } from '../load.js';
import type { ScenarioContext, ScenarioResult } from './types.js';

async function readyStatus(instance: Instance): Promise<number> {
  try {
    // Longer than the probe's own 2 s check timeout: a readiness answer that waited for a hung
    // dependency is the 503 being measured, not a probe failure.
    const response = await fetch(`http://127.0.0.1:${instance.port}/health/ready`, {
      signal: AbortSignal.timeout(4000),
    });
    await response.body?.cancel();
    return response.status;
  } catch {
    return 0;
  }
}

/**
 * Time until every instance has reported `want` (200 or 503) at least once: each instance is
 * polled on its own and the slowest one counts. (Requiring all of them to show it in the same
 * poll would measure the overlap of their probes, not how fast each one notices.)
 */
async function readinessFlip(
  instances: Instance[],
  want: 200 | 503,
  timeoutMs: number,
): Promise<{ ms: number; slowest: string }> {
  const started = Date.now();
  const times = await Promise.all(
    instances.map(async (instance) => {
      while (Date.now() - started < timeoutMs) {
        if ((await readyStatus(instance)) === want) return Date.now() - started;
        await sleep(100);
      }
      return Number.POSITIVE_INFINITY;
    }),
  );
  const ms = Math.max(...times);
  return { ms, slowest: instances[times.indexOf(ms)]?.name ?? '' };
}

export async function dependencyFaults({ short }: ScenarioContext): Promise<ScenarioResult> {
  // A model endpoint that never answers: the "blocked" model API.
  const hanging: Server = createServer(() => {
    /* never answers */
  });
  await new Promise<void>((r) => hanging.listen(0, '127.0.0.1', r));
  const hangingUrl = `http://127.0.0.1:${(hanging.address() as { port: number }).port}`;
  const cluster = new Cluster({
    apis: 2,
    workers: 2,
    env: {
      ANTHROPIC_API_KEY: 'fake-key',
      ANTHROPIC_BASE_URL: `${hangingUrl}/v1`,
      AGENT_TIMEOUT_SECONDS: '5',
      MODEL_MAX_RETRIES: '0',
    },
  });
  const recorder = new Recorder();
  const problems: string[] = [];
  const figures: Record<string, number | string> = {};
  // Down for longer than the 5 s readiness deadline, so a fault is there to be reported.
  const downMs = short ? 7000 : 10_000;
  await cluster.start();
  try {
    const client = await createUser(cluster.url, cluster.adminToken, recorder, 'faults');
    const before = randomFile(200_000);
    await client.call('PUT', '/files/uploads/before.bin', undefined, { raw: before.bytes, expect: [201] });
    const session = await client.call('POST', '/sessions', { title: 'faults' }, { expect: [201] });

    // Background load: reads and script runs. 503 during a fault is the right answer; anything
    // else of 5xx, a connection error or a hang past the client timeout is a failure.
    const faultRecorder = new Recorder();
    let stop = false;
    let during503 = 0;
    let slowest = 0;
    const load = (async () => {
      while (!stop) {
        const t = performance.now();
        try {
          const response = await fetch(`${cluster.url}/api/v1/sessions`, {
            headers: { authorization: `Bearer ${client.token}` },
            signal: AbortSignal.timeout(10_000),
          });
          const body = await response.text();
          slowest = Math.max(slowest, performance.now() - t);
          faultRecorder.requests++;
          if (response.status === 503 && body.includes('"error"')) during503++;
          else if (response.status >= 500)
            faultRecorder.fail('GET /sessions', `${response.status} ${body.slice(0, 200)}`);
        } catch (error) {
          faultRecorder.fail('GET /sessions', String((error as Error).cause ?? error));
        }
        await sleep(50);
      }
    })();

    for (const [name, restart] of [
      ['redis', (ms: number) => cluster.restartRedis(ms)],
      ['postgres', (ms: number) => cluster.restartPostgres(ms)],
    ] as const) {
      const instances = [...cluster.apis, ...cluster.workers];
      const restarting = restart(downMs);
      const notReady = await readinessFlip(instances, 503, 5000 + 1000);
      await restarting;
      const readyAgain = await readinessFlip(instances, 200, 30_000);
      figures[`${name}_notReadyWithinMs`] = notReady.ms;
      figures[`${name}_recoveredAfterRestartMs`] = readyAgain.ms;
      if (notReady.ms > 5000)
        problems.push(`${name} down: ${notReady.slowest} readiness did not report it within 5 s`);
      if (!Number.isFinite(readyAgain.ms))
        problems.push(`${name} back: ${readyAgain.slowest} did not recover by itself`);
      const dead = instances.filter((i) => i.process.exitCode !== null);
      if (dead.length > 0) problems.push(`${name} fault killed ${dead.map((d) => d.name).join(', ')}`);
      // After recovery a script execution works end to end.
      const created = await client.call(
        'POST',
        '/executions',
        { language: 'javascript', code: 'return 42' },
        { expect: [202] },
      );
      if (created) {
        const followed = await followEvents(client, (created.json as { id: string }).id, 30_000);
        if (followed.terminal?.type !== 'execution.completed')
          problems.push(`after ${name} restart: execution ${followed.terminal?.type ?? 'never ended'}`);
      }
    }

    // Model endpoint blocked: the turn fails clearly within the agent timeout; the platform stays up.
    if (session) {
      const t = Date.now();
      const posted = await client.call(
        'POST',
        `/sessions/${(session.json as { id: string }).id}/messages`,
        { text: 'hi' },
        { expect: [202] },
      );
      if (posted) {
        const followed = await followEvents(
          client,
          (posted.json as { execution: { id: string } }).execution.id,
          30_000,
        );
        figures.blockedModel_failedAfterMs = Date.now() - t;
        figures.blockedModel_terminal = `${followed.terminal?.type}:${JSON.stringify((followed.terminal?.data as { error?: { code?: string } })?.error?.code ?? '')}`;
        if (followed.terminal?.type !== 'execution.failed')
          problems.push(`blocked model: turn ended ${followed.terminal?.type ?? 'never'}`);
      }
    }

    stop = true;
    await load;
    const after = await client.call('GET', '/files/uploads/before.bin', undefined, { expect: [200] });
    if (!after || sha256(after.bytes) !== before.sha256)
      problems.push('file stored before the faults is not intact');
    figures.requestsDuringFaults = faultRecorder.requests;
    figures.clear503s = during503;
    figures.otherFailures = faultRecorder.failures.length;
    figures.slowestRequestMs = Math.round(slowest);
    return {
      name: 'dependency faults',
      passed: problems.length === 0 && faultRecorder.failures.length === 0 && recorder.failures.length === 0,
      figures,
      problems: [...faultRecorder.failures, ...recorder.failures]
        .map((f) => `${f.what}: ${f.detail}`)
        .concat(problems)
        .slice(0, 20),
    };
  } finally {
    await cluster.stop();
    hanging.closeAllConnections();
    hanging.close();
  }
}
