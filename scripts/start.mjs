/**
 * `npm start`: builds only the parts whose inputs changed since their last build, then runs the
 * platform in one process. A second start with nothing changed is ready in seconds.
 */
import { spawn, spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { hashInputs, isCurrent, markBuilt, parts } from './build-state.mjs';

const root = resolve(import.meta.dirname, '..');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

for (const part of parts) {
  if (isCurrent(root, part)) {
    console.log(`${part.name}: build is up to date, skipped`);
    continue;
  }
  // Hashed before building, so an edit made during the build triggers the next one.
  const hash = hashInputs(root, part.inputs);
  console.log(`${part.name}: building…`);
  const result = spawnSync(npm, part.build, { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) process.exit(result.status ?? 1);
  markBuilt(root, part, hash);
}

// The platform runs in its own process group and gets each signal from here exactly once: a
// terminal's Ctrl+C reaches this script both directly and forwarded by npm, and the platform
// reads a second signal as "force exit".
const child = spawn(process.execPath, ['backend/dist/main.js', 'standalone', ...process.argv.slice(2)], {
  cwd: root,
  stdio: 'inherit',
  detached: true,
});
let last = { signal: '', at: 0 };
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    const now = Date.now();
    if (last.signal === signal && now - last.at < 300) return;
    last = { signal, at: now };
    child.kill(signal);
  });
}
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 130 : 1)));
