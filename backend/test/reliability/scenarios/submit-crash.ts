/**
 * Scenario 8 — submission crashes and admission across replicas.
 * Part 1: an API started with the test-only fault injection (`TEST_CRASH_SUBMISSION_AT`) kills
 * itself with SIGKILL at one step of a submission (after the row, after the `execution.queued`
 * event, after the enqueue) while several submissions are in flight; repeated for every step.
 * Pass: every execution those APIs wrote ends (the workers' queue reconciler runs the ones left
 * without a job), each stream tells one story (one `execution.queued`, one terminal event), and no
 * slot leaks: afterwards each user is admitted for `USER_CONCURRENCY` executions at once again.
 * Part 2: bursts of one user's submissions spread over two API instances. Pass: never more than
 * `USER_CONCURRENCY` admitted (the admitted scripts outlast the burst and are cancelled after it),
 * and the user's queued + running count, sampled in the database throughout both parts, never
 * passes the limit.
 */
import pg from 'pg';
import { Cluster, type Instance, sleep } from '../cluster.js';
import { ApiClient, createUser, followEvents, Recorder } from '../load.js';
import type { ScenarioContext, ScenarioResult } from './types.js';

const steps = ['after-row', 'after-event', 'after-enqueue'] as const;
const limit = 4;
const reconcileAgeMs = 2000;
const quick = { language: 'javascript', code: 'return 1;' };
/**
 * Far longer than a burst can last (each request gives up after 15 s), so no admitted execution
 * ends and frees a slot while the burst is still arriving; cancelled once the burst is answered.
 */
const slow = { language: 'javascript', code: 'await new Promise((r) => setTimeout(r, 60000)); return 1;' };

export async function submitCrash({ short }: ScenarioContext): Promise<ScenarioResult> {
  const killsPerStep = short ? 2 : 6;
  const inFlightPerKill = short ? 3 : 4;
  const bursts = short ? 2 : 5;
  const burstSize = short ? 40 : 80;
  const cluster = new Cluster({
    apis: 2,
    workers: 2,
    env: {
      USER_CONCURRENCY: String(limit),
      QUEUE_RECONCILE_INTERVAL_MS: '500',
      QUEUE_RECONCILE_AGE_MS: String(reconcileAgeMs),
    },
  });
  const recorder = new Recorder();
  const problems: string[] = [];
  const figures: Record<string, number | string> = {};
  await cluster.start();
  const db = new pg.Client({ connectionString: cluster.databaseUrl });
  await db.connect();
  const started = Date.now();
  let sampling = true;
  let maxActive = 0;
  const sampler = (async () => {
    while (sampling) {
      const { rows } = await db.query<{ n: number }>(
        `SELECT coalesce(max(n), 0)::int AS n FROM (SELECT count(*) AS n FROM executions
          WHERE status IN ('queued', 'running') GROUP BY user_id) per_user`,
      );
      maxActive = Math.max(maxActive, rows[0]?.n ?? 0);
      await sleep(20);
    }
  })();
  try {
    // Part 1: kill the API at each step of a submission.
    const crashUsers = new Map<string, ApiClient>();
    for (const step of steps) {
      const client = await createUser(cluster.url, cluster.adminToken, recorder, `crash-${step}`);
      const me = { id: await userIdOf(client) };
      crashUsers.set(me.id, client);
      let kills = 0;
      for (let k = 0; k < killsPerStep; k++) {
        // Earlier crashes' executions may still hold the user's slots: wait until they are free,
        // so every in-flight submission gets as far as the step.
        await waitUntilIdle(db, me.id, 60_000);
        const faulty: Instance = await cluster.spawn('api', { TEST_CRASH_SUBMISSION_AT: step });
        const direct = `http://127.0.0.1:${faulty.port}/api/v1/executions`;
        await Promise.allSettled(
          Array.from({ length: inFlightPerKill }, () =>
            fetch(direct, {
              method: 'POST',
              headers: { authorization: `Bearer ${client.token}`, 'content-type': 'application/json' },
              body: JSON.stringify(quick),
              signal: AbortSignal.timeout(10_000),
            }).then((r) => r.body?.cancel()),
          ),
        );
        const code = await Promise.race([faulty.exited, sleep(10_000).then(() => 'alive' as const)]);
        if (code === 'alive') {
          faulty.process.kill('SIGKILL');
          problems.push(`${step}: the faulty API did not kill itself`);
        } else kills++;
      }
      figures[`kills_${step}`] = kills;
    }

    // Every execution the killed APIs wrote ends, with one story in its stream.
    const ids = [...crashUsers.keys()];
    const deadline = Date.now() + (short ? 60_000 : 120_000);
    let rows: { id: string; user_id: string; status: string }[] = [];
    for (;;) {
      rows = (
        await db.query<{ id: string; user_id: string; status: string }>(
          'SELECT id, user_id, status FROM executions WHERE user_id = ANY($1::uuid[])',
          [ids],
        )
      ).rows;
      if (rows.every((r) => !['queued', 'running'].includes(r.status)) || Date.now() > deadline) break;
      await sleep(250);
    }
    const unended = rows.filter((r) => ['queued', 'running'].includes(r.status));
    if (unended.length > 0)
      problems.push(`${unended.length} crashed submissions never ended, e.g. ${unended[0]?.id}`);
    const byStatus: Record<string, number> = {};
    for (const r of rows) byStatus[r.status] = (byStatus[r.status] ?? 0) + 1;
    let badStories = 0;
    for (const r of rows) {
      const client = crashUsers.get(r.user_id)!;
      const followed = await followEvents(client, r.id, 15_000);
      const queued = followed.events.filter((e) => e.type === 'execution.queued').length;
      const terminals = followed.events.filter((e) =>
        ['execution.completed', 'execution.failed', 'execution.cancelled'].includes(e.type),
      ).length;
      if (queued !== 1 || terminals !== 1 || followed.problems.length > 0) {
        badStories++;
        if (badStories <= 3)
          problems.push(
            `${r.id}: ${followed.events.map((e) => e.type).join(',')} ${followed.problems.join('; ')}`,
          );
      }
    }
    // No slot leaked: each user is admitted for the whole limit at once again.
    let leakedSlots = 0;
    for (const client of crashUsers.values()) {
      const answers = await Promise.all(
        Array.from({ length: limit }, () =>
          client.call('POST', '/executions', quick, { expect: [202, 429] }),
        ),
      );
      leakedSlots += answers.filter((a) => a?.status !== 202).length;
    }
    if (leakedSlots > 0)
      problems.push(`${leakedSlots} slots stayed taken after every crashed submission ended`);
    Object.assign(figures, {
      crashSubmissionsWritten: rows.length,
      crashExecutionsEnded: rows.length - unended.length,
      ...Object.fromEntries(Object.entries(byStatus).map(([k, v]) => [`crash_status_${k}`, v])),
      streamsWithoutOneStory: badStories,
      leakedSlots,
    });

    // Part 2: one user's bursts over two API instances at once.
    const burstUser = await createUser(cluster.url, cluster.adminToken, recorder, 'burst');
    const apis = cluster.apis
      .slice(0, 2)
      .map((a) => new ApiClient(`http://127.0.0.1:${a.port}`, burstUser.token, recorder));
    let maxAdmitted = 0;
    let refused = 0;
    const burstMe = { id: await userIdOf(burstUser) };
    for (let b = 0; b < bursts; b++) {
      await waitUntilIdle(db, burstMe.id, 60_000);
      const answers = await Promise.all(
        Array.from({ length: burstSize }, (_, i) =>
          apis[i % apis.length]!.call('POST', '/executions', slow, { expect: [202, 429] }),
        ),
      );
      const admittedIds = answers.flatMap((a) => (a?.status === 202 ? [(a.json as { id: string }).id] : []));
      const admitted = admittedIds.length;
      for (const id of admittedIds)
        await burstUser.call('POST', `/executions/${id}/cancel`, undefined, { expect: [202, 409] });
      refused += answers.filter((a) => a?.status === 429).length;
      maxAdmitted = Math.max(maxAdmitted, admitted);
      if (admitted > limit) problems.push(`burst ${b}: ${admitted} admitted, limit ${limit}`);
      if (admitted < limit)
        problems.push(`burst ${b}: only ${admitted} admitted from an idle user, limit ${limit}`);
    }
    await waitUntilIdle(db, burstMe.id, 60_000);
    for (const id of crashUsers.keys()) await waitUntilIdle(db, id, 60_000);
    sampling = false;
    await sampler;
    if (maxActive > limit) problems.push(`a user had ${maxActive} executions active at once, limit ${limit}`);
    Object.assign(figures, {
      bursts,
      burstSize,
      maxAdmittedPerBurst: maxAdmitted,
      refusedInBursts: refused,
      userConcurrency: limit,
      maxActivePerUser: maxActive,
      failedRequests: recorder.failures.length,
      durationSeconds: Math.round((Date.now() - started) / 1000),
    });
    return {
      name: 'submission crashes and admission',
      passed: problems.length === 0 && recorder.failures.length === 0,
      figures,
      problems: [...recorder.failures.map((f) => `${f.what}: ${f.detail}`), ...problems].slice(0, 20),
    };
  } finally {
    sampling = false;
    await sampler.catch(() => undefined);
    await db.end();
    await cluster.stop();
  }
}

async function userIdOf(client: ApiClient): Promise<string> {
  const me = (await client.call('GET', '/me'))?.json as { user?: { id: string } } | undefined;
  if (!me?.user) throw new Error('could not read the user behind a token');
  return me.user.id;
}

/** Waits until the user has nothing queued or running. */
async function waitUntilIdle(db: pg.Client, userId: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { rows } = await db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM executions WHERE user_id = $1 AND status IN ('queued', 'running')",
      [userId],
    );
    if ((rows[0]?.n ?? 0) === 0) return;
    if (Date.now() > deadline) throw new Error(`user ${userId} still has ${rows[0]?.n} active executions`);
    await sleep(100);
  }
}
