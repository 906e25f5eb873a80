import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/index.js';

describe('secrets delivered as files (NAME_FILE)', () => {
  // Made in a hook, not while the file is collected: a run that filters every test out runs no
  // afterAll, and the folder would stay behind.
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'ipa-secret-files-'));
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('reads a secret setting from the file NAME_FILE names, trimming the trailing newline', () => {
    writeFileSync(path.join(dir, 'db'), 'postgres://u:p@db:5432/ipa\n');
    writeFileSync(path.join(dir, 'redis'), 'redis://redis:6379/0');
    const config = loadConfig('api', {
      DATABASE_URL_FILE: path.join(dir, 'db'),
      REDIS_URL_FILE: path.join(dir, 'redis'),
    });
    expect(config.database).toMatchObject({ kind: 'postgres', url: 'postgres://u:p@db:5432/ipa' });
    expect(config.redis?.url).toBe('redis://redis:6379/0');
  });

  it('prefers the variable itself over the file', () => {
    writeFileSync(path.join(dir, 'key'), 'from-file');
    const config = loadConfig('standalone', {
      ANTHROPIC_API_KEY: 'from-env',
      ANTHROPIC_API_KEY_FILE: path.join(dir, 'key'),
    });
    expect(config.model.anthropic.apiKey).toBe('from-env');
  });

  it('reports an unreadable file as one clear problem', () => {
    const attempt = () => loadConfig('standalone', { IPA_ADMIN_TOKEN_FILE: path.join(dir, 'missing') });
    expect(attempt).toThrow(ConfigError);
    expect(attempt).toThrow(/IPA_ADMIN_TOKEN_FILE: cannot read .*missing \(ENOENT\)/);
  });

  it('ignores NAME_FILE for settings that are not secrets', () => {
    writeFileSync(path.join(dir, 'port'), '9999');
    expect(loadConfig('standalone', { PORT_FILE: path.join(dir, 'port') }).http.port).toBe(8000);
  });
});
