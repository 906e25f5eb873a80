/**
 * Writes the configuration table into README.md between its markers, from the settings table in
 * backend/src/config/settings.ts. `--check` exits 1 when README.md is out of date (used by tests).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { configurationTable } from '../backend/src/config/index.js';

const readme = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../README.md');
const start = '<!-- config-table:start -->';
const end = '<!-- config-table:end -->';

export function renderReadme(current: string): string {
  const from = current.indexOf(start);
  const to = current.indexOf(end);
  if (from < 0 || to < from) throw new Error(`README.md lacks the ${start} … ${end} markers`);
  return `${current.slice(0, from + start.length)}\n${configurationTable()}\n${current.slice(to)}`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const current = readFileSync(readme, 'utf8');
  const next = renderReadme(current);
  if (process.argv.includes('--check')) {
    if (next !== current) {
      console.error('README.md configuration table is out of date: run npm run docs:config');
      process.exit(1);
    }
  } else {
    writeFileSync(readme, next);
  }
}
