// Steady load through the public entry until a stop file appears, then a verdict: every request
// must succeed (2xx). Used around `helm upgrade` to prove a rollout drops nothing.
//   node scripts/kind/load.mjs <base-url> <admin-token> <stop-file> [concurrency]
import { existsSync } from 'node:fs';

const [base, token, stopFile, concurrencyArg] = process.argv.slice(2);
if (!base || !token || !stopFile) {
  console.error('usage: node scripts/kind/load.mjs <base-url> <admin-token> <stop-file> [concurrency]');
  process.exit(2);
}
const root = base.replace(/\/$/, '');
const targets = [
  { url: `${root}/api/v1/me`, headers: { authorization: `Bearer ${token}` } },
  { url: `${root}/`, headers: {} },
];
const counts = { ok: 0, failed: 0 };
const failures = new Map();
const started = Date.now();

async function loop(worker) {
  for (let i = worker; !existsSync(stopFile); i++) {
    const target = targets[i % targets.length];
    try {
      const response = await fetch(target.url, {
        headers: target.headers,
        signal: AbortSignal.timeout(10_000),
      });
      await response.arrayBuffer();
      if (response.ok) counts.ok += 1;
      else {
        counts.failed += 1;
        const key = `${response.status} ${target.url}`;
        failures.set(key, (failures.get(key) ?? 0) + 1);
      }
    } catch (error) {
      counts.failed += 1;
      const key = `${error.cause?.code ?? error.name} ${target.url}`;
      failures.set(key, (failures.get(key) ?? 0) + 1);
    }
  }
}

await Promise.all(Array.from({ length: Number(concurrencyArg ?? 8) }, (_, i) => loop(i)));
const seconds = (Date.now() - started) / 1000;
console.log(`load: ${counts.ok} ok, ${counts.failed} failed in ${seconds.toFixed(0)} s`);
for (const [key, n] of failures) console.log(`  ${n} × ${key}`);
process.exit(counts.ok > 0 && counts.failed === 0 ? 0 : 1);
