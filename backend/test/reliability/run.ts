/**
 * Reliability harness entry point (`npm run test:reliability`): runs the scenarios against a
 * local multi-instance platform and prints their figures. `--short` is the version CI runs
 * (scenarios 2–5, 8 and 9, a few minutes); without it every scenario runs at full length (about 30 min).
 *   npm run test:reliability -- --short
 *   npm run test:reliability -- --only rolling,chaos
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { commandLineOptions } from '../support/command-line.js';
import { scenarios as modelScenarios, startFakeModelServer } from '../support/fake-model/index.js';
import { stopAllClusters } from './cluster.js';
import { autoscalingSignal } from './scenarios/autoscaling-signal.js';
import { dependencyFaults } from './scenarios/dependency-faults.js';
import { hostileInput } from './scenarios/hostile-input.js';
import { redisFailover } from './scenarios/redis-failover.js';
import { rollingUpdate } from './scenarios/rolling-update.js';
import { soak } from './scenarios/soak.js';
import { submitCrash } from './scenarios/submit-crash.js';
import type { ScenarioContext, ScenarioResult } from './scenarios/types.js';
import { workerChaos } from './scenarios/worker-chaos.js';

const all = {
  rolling: rollingUpdate,
  chaos: workerChaos,
  faults: dependencyFaults,
  hostile: hostileInput,
  soak,
  autoscaling: autoscalingSignal,
  submit: submitCrash,
  failover: redisFailover,
} satisfies Record<string, (context: ScenarioContext) => Promise<ScenarioResult>>;
const shortSet: (keyof typeof all)[] = ['rolling', 'chaos', 'faults', 'hostile', 'submit', 'failover'];

// The harness's S3 server talks through the AWS SDK, whose notice that its releases after
// January 2027 need Node 22 says nothing about this run.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const usage = `usage: npm run test:reliability -- [--short] [--only ${Object.keys(all).join(',')}]`;
const values = commandLineOptions(
  { short: { type: 'boolean', default: false }, only: { type: 'string' } },
  usage,
);
const names = (values.only?.split(',') ??
  (values.short ? shortSet : Object.keys(all))) as (keyof typeof all)[];
const unknown = names.filter((n) => !(n in all));
if (unknown.length > 0) {
  console.error(`unknown scenario ${unknown.join(', ')}; known: ${Object.keys(all).join(', ')}`);
  process.exit(2);
}

// What the cluster runs, checked up front so a machine without it gets one clear line.
const missing = ['nginx', 'redis-server', 'runuser'].filter(
  (command) => spawnSync('sh', ['-c', `command -v ${command}`]).status !== 0,
);
if (!existsSync('/usr/lib/postgresql')) missing.push("PostgreSQL's server binaries (/usr/lib/postgresql)");
if (missing.length > 0) {
  console.error(`the reliability harness needs ${missing.join(', ')} on this machine`);
  process.exit(2);
}

// An interrupted run (Ctrl-C, a CI timeout) stops its PostgreSQL, Redis, nginx and platform
// processes before it exits.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    console.error(`\n${signal}: stopping the running cluster`);
    void stopAllClusters().finally(() => process.exit(130));
  });
}

const model = await startFakeModelServer(modelScenarios['echo-with-tool']!.script);
const results: ScenarioResult[] = [];
try {
  for (const name of names) {
    const started = Date.now();
    console.log(`\n=== ${name}${values.short ? ' (short)' : ''}`);
    let result: ScenarioResult;
    try {
      result = await all[name]({ short: values.short ?? false, modelUrl: model.url });
    } catch (error) {
      result = { name, passed: false, figures: {}, problems: [String((error as Error).stack ?? error)] };
    }
    results.push(result);
    console.log(
      `${result.passed ? 'PASS' : 'FAIL'} ${result.name} (${Math.round((Date.now() - started) / 1000)} s)`,
    );
    for (const [k, v] of Object.entries(result.figures)) console.log(`  ${k}: ${v}`);
    for (const p of result.problems) console.log(`  problem: ${p}`);
  }
} finally {
  await model.close();
}

const out = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../.cache/reliability');
mkdirSync(out, { recursive: true });
writeFileSync(
  path.join(out, 'last.json'),
  JSON.stringify({ at: new Date().toISOString(), short: values.short, results }, null, 2),
);
const passed = results.filter((r) => r.passed).length;
console.log(`\nreliability: ${passed} passed, ${results.length - passed} failed`);
process.exit(passed === results.length ? 0 : 1);
