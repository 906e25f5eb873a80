import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, configurationTable, loadConfig, settings } from '../../src/config/index.js';

const distributed = { DATABASE_URL: 'postgres://db.example/ipa', REDIS_URL: 'redis://cache.example:6379' };

function problemsOf(role: Parameters<typeof loadConfig>[0], env: NodeJS.ProcessEnv): string[] {
  try {
    loadConfig(role, env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it('gives standalone every default with an empty environment', () => {
    const config = loadConfig('standalone', {});
    expect(config.http).toMatchObject({
      port: 8000,
      host: '127.0.0.1',
      secureCookies: false,
      corsOrigins: [],
    });
    expect(config.dataDir).toBe(path.resolve('./data'));
    expect(config.database).toEqual({ kind: 'pglite', dir: path.join(path.resolve('./data'), 'db') });
    expect(config.redis).toBeUndefined();
    expect(config.executions).toEqual({
      timeoutMs: 300_000,
      userConcurrency: 2,
      eventRetentionSeconds: 86_400,
    });
    expect(config.worker).toEqual({
      concurrency: 4,
      graceMs: 30_000,
      stalledIntervalMs: 15_000,
      maxAttempts: 5,
      reconcileIntervalMs: 10_000,
      reconcileAgeMs: 15_000,
    });
    expect(config.blobs).toEqual({ kind: 'local', dir: path.join(path.resolve('./data'), 'blobs') });
    expect(config.blobGcIntervalMs).toBe(300_000);
    expect(config.testing).toEqual({ crashSubmissionAt: 'off' });
    expect(config.sandbox).toMatchObject({
      root: path.join(path.resolve('./data'), 'sandbox'),
      isolation: 'auto',
      requireIsolation: 'none',
      envAllowlist: ['LANG', 'TZ'],
    });
    expect(config.logLevel).toBe('info');
  });

  it('reads the blob store settings and names every missing one', () => {
    // Separate API and worker processes share the database, not a directory.
    expect(loadConfig('api', distributed).blobs).toEqual({ kind: 'postgres' });
    expect(loadConfig('worker', distributed).blobs).toEqual({ kind: 'postgres' });
    expect(() => loadConfig('standalone', { BLOB_STORE: 'postgres' })).toThrow(/needs DATABASE_URL/);
    expect(
      loadConfig('api', {
        ...distributed,
        BLOB_STORE: 's3',
        BLOB_S3_BUCKET: 'files',
        BLOB_S3_ENDPOINT: 'http://minio:9000',
        BLOB_S3_FORCE_PATH_STYLE: 'true',
        BLOB_S3_ACCESS_KEY_ID: 'id',
        BLOB_S3_SECRET_ACCESS_KEY: 'secret',
        BLOB_PREFIX: 'ipa/',
      }).blobs,
    ).toEqual({
      kind: 's3',
      bucket: 'files',
      prefix: 'ipa/',
      region: 'us-east-1',
      endpoint: 'http://minio:9000',
      forcePathStyle: true,
      credentials: { accessKeyId: 'id', secretAccessKey: 'secret' },
    });
    expect(
      loadConfig('api', {
        ...distributed,
        BLOB_STORE: 'azure',
        BLOB_AZURE_CONNECTION_STRING: 'UseDevelopmentStorage=true',
        BLOB_AZURE_CONTAINER: 'ipa-files',
      }).blobs,
    ).toEqual({
      kind: 'azure',
      connectionString: 'UseDevelopmentStorage=true',
      container: 'ipa-files',
      prefix: '',
    });
    expect(() =>
      loadConfig('api', { ...distributed, BLOB_STORE: 's3', BLOB_S3_ACCESS_KEY_ID: 'id' }),
    ).toThrow(/BLOB_S3_BUCKET: required[\s\S]*give both or neither/);
    expect(() => loadConfig('api', { ...distributed, BLOB_STORE: 'azure' })).toThrow(
      /BLOB_AZURE_CONNECTION_STRING: required[\s\S]*BLOB_AZURE_CONTAINER: required/,
    );
    expect(() => loadConfig('api', { ...distributed, BLOB_PREFIX: '../x' })).toThrow(/BLOB_PREFIX/);
  });

  it('follows Redis through Sentinel when REDIS_SENTINELS is set', () => {
    const config = loadConfig('api', {
      ...distributed,
      REDIS_SENTINELS: 'sentinel-0:26379,10.0.0.7:26380',
      REDIS_SENTINEL_MASTER: 'ipa',
      REDIS_SENTINEL_PASSWORD: 'pw',
    });
    expect(config.redis?.sentinel).toEqual({
      sentinels: [
        { host: 'sentinel-0', port: 26379 },
        { host: '10.0.0.7', port: 26380 },
      ],
      name: 'ipa',
      password: 'pw',
    });
    expect(loadConfig('api', distributed).redis?.sentinel).toBeUndefined();
    expect(() => loadConfig('api', { ...distributed, REDIS_SENTINELS: 'no-port' })).toThrow(
      /REDIS_SENTINELS/,
    );
  });

  it('defaults the port to 8000 for the API and 8001 for the worker, and binds all addresses', () => {
    expect(loadConfig('api', distributed).http).toMatchObject({
      port: 8000,
      host: '0.0.0.0',
      secureCookies: true,
    });
    expect(loadConfig('worker', distributed).http).toMatchObject({ port: 8001, host: '0.0.0.0' });
    expect(loadConfig('worker', { ...distributed, PORT: '9100' }).http.port).toBe(9100);
  });

  it('uses PostgreSQL and Redis when their URLs are set', () => {
    const config = loadConfig('api', { ...distributed, DATABASE_POOL_SIZE: '7', REDIS_PREFIX: 'blue' });
    expect(config.database).toEqual({
      kind: 'postgres',
      url: distributed.DATABASE_URL,
      poolSize: 7,
      preparedStatements: true,
    });
    expect(config.redis).toEqual({ url: distributed.REDIS_URL, prefix: 'blue' });
    const pooled = loadConfig('api', { ...distributed, DATABASE_PREPARED_STATEMENTS: 'false' });
    expect(pooled.database).toMatchObject({ kind: 'postgres', preparedStatements: false });
  });

  it('requires REDIS_URL and DATABASE_URL for api and worker, and says why', () => {
    for (const role of ['api', 'worker'] as const) {
      const problems = problemsOf(role, {});
      expect(problems).toHaveLength(2);
      expect(problems[0]).toMatch(new RegExp(`^REDIS_URL: required for '${role}'.*standalone`));
      expect(problems[1]).toMatch(new RegExp(`^DATABASE_URL: required for '${role}'`));
      expect(problemsOf(role, { DATABASE_URL: distributed.DATABASE_URL })).toEqual([
        expect.stringMatching(/^REDIS_URL: required/),
      ]);
    }
    expect(problemsOf('migrate', {})).toEqual([
      expect.stringMatching(/^DATABASE_URL: required for 'migrate'/),
    ]);
    expect(() => loadConfig('migrate', { DATABASE_URL: distributed.DATABASE_URL })).not.toThrow();
  });

  it('reports every invalid value, one line each, naming the setting', () => {
    const problems = problemsOf('standalone', {
      PORT: 'eighty',
      LOG_LEVEL: 'loud',
      WORKER_CONCURRENCY: '0',
      SANDBOX_ISOLATION: 'docker',
      TRUST_PROXY: 'maybe',
      REDIS_URL: 'not a url',
    });
    expect(problems).toHaveLength(6);
    for (const problem of problems) expect(problem).not.toContain('\n');
    const names = problems.map((p) => p.split(':')[0]).sort();
    expect(names).toEqual(
      ['LOG_LEVEL', 'PORT', 'REDIS_URL', 'SANDBOX_ISOLATION', 'TRUST_PROXY', 'WORKER_CONCURRENCY'].sort(),
    );
    expect(problems.find((p) => p.startsWith('PORT'))).toContain('"eighty"');
  });

  it('accepts the submission fault injection only at a known step, off by default', () => {
    expect(loadConfig('api', { ...distributed, TEST_CRASH_SUBMISSION_AT: 'after-event' }).testing).toEqual({
      crashSubmissionAt: 'after-event',
    });
    const problems = problemsOf('standalone', {
      TEST_CRASH_SUBMISSION_AT: 'sometimes',
      QUEUE_RECONCILE_AGE_MS: '5',
    });
    expect(problems.map((p) => p.split(':')[0]).sort()).toEqual([
      'QUEUE_RECONCILE_AGE_MS',
      'TEST_CRASH_SUBMISSION_AT',
    ]);
  });

  it('reports role problems together with value problems', () => {
    const problems = problemsOf('worker', { PORT: '70000', REDIS_URL: 'nope' });
    expect(problems.map((p) => p.split(':')[0]).sort()).toEqual(['DATABASE_URL', 'PORT', 'REDIS_URL']);
    expect(problems.find((p) => p.startsWith('REDIS_URL'))).not.toMatch(/required/);
  });

  it('never shows the value of a secret setting in a problem', () => {
    const problems = problemsOf('standalone', { IPA_ADMIN_TOKEN: 'short-secret-value' });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^IPA_ADMIN_TOKEN: .*\(hidden\)/);
    expect(problems[0]).not.toContain('short-secret-value');
  });

  it('treats empty strings as unset', () => {
    const config = loadConfig('standalone', { PORT: '', REDIS_URL: '', LOG_LEVEL: '' });
    expect(config.http.port).toBe(8000);
    expect(config.redis).toBeUndefined();
    expect(config.logLevel).toBe('info');
  });

  it('converts seconds to milliseconds and keeps secrets out of the sandbox allowlist', () => {
    const config = loadConfig('worker', {
      ...distributed,
      WORKER_GRACE_SECONDS: '5',
      EXECUTION_TIMEOUT_SECONDS: '2',
      SANDBOX_ENV_ALLOWLIST: 'LANG, OPENAI_API_KEY ,TZ,,DATABASE_URL',
    });
    expect(config.worker.graceMs).toBe(5_000);
    expect(config.executions.timeoutMs).toBe(2_000);
    expect(config.sandbox.envAllowlist).toEqual(['LANG', 'TZ']);
  });

  it('documents every setting in the configuration table', () => {
    const table = configurationTable();
    for (const name of Object.keys(settings)) expect(table).toContain(`| \`${name}\` |`);
  });
});
