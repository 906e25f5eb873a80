#!/usr/bin/env node
// Runs every benchmark (`*.bench.ts` under backend/bench and frontend/bench) one after another —
// never in parallel, so they do not disturb each other's figures — and prints their tables.
// `npm run bench -- sandbox api` runs only the files whose names contain one of the words.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const filters = process.argv.slice(2);
const files = ['backend/bench', 'frontend/bench'].flatMap((dir) => {
  try {
    return readdirSync(path.join(repo, dir))
      .filter((f) => f.endsWith('.bench.ts'))
      .map((f) => path.join(dir, f));
  } catch {
    return [];
  }
});
const selected = files.filter((f) => filters.length === 0 || filters.some((w) => f.includes(w)));

console.log(`# IPA Platform benchmarks — ${new Date().toISOString()}`);
console.log(
  `machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}\n`,
);
// The benchmarks make databases and Redis key prefixes through the test helpers, which record
// them here; they are removed after the last benchmark, as a test run removes its own.
const tsx = path.join(repo, 'node_modules/.bin/tsx');
const record = mkdtempSync(path.join(os.tmpdir(), 'bench-run-record-'));
const env = { ...process.env, IPA_TEST_RUN_RECORD: record };
let failed = 0;
for (const file of selected) {
  console.log(`## ${file}\n`);
  const result = spawnSync(tsx, [file], { cwd: repo, stdio: 'inherit', env });
  if (result.status !== 0) {
    failed++;
    console.log(`(${file} exited ${result.status})\n`);
  }
}
spawnSync(tsx, ['backend/test/support/run-leftovers.ts', 'remove', record], { cwd: repo, stdio: 'inherit' });
process.exit(failed === 0 ? 0 : 1);
