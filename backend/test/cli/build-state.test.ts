import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
// @ts-expect-error: a plain ES module of the repository's scripts, without type declarations
import { hashInputs, isCurrent, markBuilt } from '../../../scripts/build-state.mjs';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function project() {
  const root = mkdtempSync(join(tmpdir(), 'ipa-build-state-'));
  dirs.push(root);
  mkdirSync(join(root, 'src'));
  mkdirSync(join(root, 'dist'));
  writeFileSync(join(root, 'src/a.ts'), 'export const a = 1;\n');
  const part = { inputs: ['src', 'package.json'], output: 'dist/main.js', stamp: 'dist/.inputs-hash' };
  return { root, part };
}

describe('npm start build state', () => {
  it('needs a build until one is recorded, then skips it until an input changes', () => {
    const { root, part } = project();
    expect(isCurrent(root, part)).toBe(false);
    writeFileSync(join(root, 'dist/main.js'), '');
    expect(isCurrent(root, part)).toBe(false);
    markBuilt(root, part, hashInputs(root, part.inputs));
    expect(isCurrent(root, part)).toBe(true);
    // Touching a file without changing it (a checkout, a copy) does not force a rebuild.
    utimesSync(join(root, 'src/a.ts'), new Date(), new Date(Date.now() + 60_000));
    expect(isCurrent(root, part)).toBe(true);
    writeFileSync(join(root, 'src/a.ts'), 'export const a = 2;\n');
    expect(isCurrent(root, part)).toBe(false);
  });

  it('notices an added input file and a missing output', () => {
    const { root, part } = project();
    writeFileSync(join(root, 'dist/main.js'), '');
    markBuilt(root, part, hashInputs(root, part.inputs));
    writeFileSync(join(root, 'package.json'), '{}');
    expect(isCurrent(root, part)).toBe(false);
    markBuilt(root, part, hashInputs(root, part.inputs));
    rmSync(join(root, 'dist/main.js'));
    expect(isCurrent(root, part)).toBe(false);
  });
});
