import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { renderReadme } from '../../../scripts/config-table.js';
import { settings } from '../../src/config/index.js';

const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');

describe('README', () => {
  it('shows the two set-up commands', () => {
    expect(readme).toContain('npm install && npm start');
    expect(readme).toContain('npm install && npm test');
  });

  it('has the configuration table generated from the settings (npm run docs:config)', () => {
    expect(renderReadme(readme)).toBe(readme);
    for (const name of Object.keys(settings)) expect(readme).toContain(`| \`${name}\` |`);
  });
});
