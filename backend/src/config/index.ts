import { readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { type SettingName, secretSettingNames, settings } from './settings.js';

export { secretSettingNames, settings } from './settings.js';

export type ProcessRole = 'api' | 'worker' | 'standalone' | 'migrate';

const envSchema = z.object(
  Object.fromEntries(Object.entries(settings).map(([name, s]) => [name, s.schema])) as {
    [K in SettingName]: (typeof settings)[K]['schema'];
  },
);

type RawEnv = { [K in SettingName]: z.output<(typeof settings)[K]['schema']> };

export type Config = ReturnType<typeof buildConfig>;

/** Raised when the environment is invalid; `problems` holds one readable line per problem. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/**
 * Reads and validates the environment for one process role. Empty strings count as unset, so a
 * Kubernetes manifest may leave an optional variable blank.
 */
/**
 * The process environment. Only `config/` reads it (a lint rule holds the rest of the backend to
 * that); everything else receives what it needs from here or from the loaded `Config`.
 */
export function processEnvironment(): NodeJS.ProcessEnv {
  return process.env;
}

export function loadConfig(role: ProcessRole, env: NodeJS.ProcessEnv = processEnvironment()): Config {
  const input: Record<string, string> = {};
  const problems: string[] = [];
  for (const name of Object.keys(settings)) {
    const value = env[name];
    if (value !== undefined && value !== '') input[name] = value;
  }
  // A secret may come as a file (Kubernetes Secret volume): NAME_FILE names it; NAME wins.
  for (const name of secretSettingNames) {
    const file = env[`${name}_FILE`];
    if (input[name] !== undefined || !file) continue;
    try {
      const value = readFileSync(file, 'utf8').trim();
      if (value !== '') input[name] = value;
    } catch (error) {
      problems.push(
        `${name}_FILE: cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
      );
    }
  }
  // Role rules only ask whether a URL is given; a given but malformed one is a value problem.
  // Both kinds are collected so the operator sees every problem in one run.
  if (role !== 'standalone' && role !== 'migrate' && input.REDIS_URL === undefined) {
    problems.push(
      `REDIS_URL: required for '${role}' (the in-process queue only works when API and worker share one process: use 'standalone')`,
    );
  }
  if ((role === 'api' || role === 'worker') && input.DATABASE_URL === undefined) {
    problems.push(
      `DATABASE_URL: required for '${role}' (the embedded database cannot be shared between processes: use 'standalone')`,
    );
  }
  if (role === 'migrate' && input.DATABASE_URL === undefined) {
    problems.push(`DATABASE_URL: required for 'migrate'`);
  }
  const parsed = envSchema.safeParse(input);
  if (!parsed.success) {
    problems.push(
      ...parsed.error.issues.map((issue) => {
        const name = String(issue.path[0] ?? '');
        const shown = secretSettingNames.includes(name as SettingName)
          ? '(hidden)'
          : JSON.stringify(input[name]);
        return `${name}: ${issue.message}${input[name] === undefined ? '' : ` (got ${shown})`}`;
      }),
    );
  }
  if (input.BLOB_STORE === 's3' && input.BLOB_S3_BUCKET === undefined)
    problems.push(`BLOB_S3_BUCKET: required when BLOB_STORE is 's3'`);
  if (
    input.BLOB_STORE === 's3' &&
    (input.BLOB_S3_ACCESS_KEY_ID === undefined) !== (input.BLOB_S3_SECRET_ACCESS_KEY === undefined)
  )
    problems.push('BLOB_S3_ACCESS_KEY_ID and BLOB_S3_SECRET_ACCESS_KEY: give both or neither');
  if (input.BLOB_STORE === 'azure') {
    if (input.BLOB_AZURE_CONNECTION_STRING === undefined)
      problems.push(`BLOB_AZURE_CONNECTION_STRING: required when BLOB_STORE is 'azure'`);
    if (input.BLOB_AZURE_CONTAINER === undefined)
      problems.push(`BLOB_AZURE_CONTAINER: required when BLOB_STORE is 'azure'`);
  }
  if (input.BLOB_STORE === 'postgres' && input.DATABASE_URL === undefined)
    problems.push(`BLOB_STORE: 'postgres' needs DATABASE_URL`);
  if (problems.length > 0 || !parsed.success) throw new ConfigError(problems);
  const raw = parsed.data as RawEnv;
  return buildConfig(role, raw);
}

function buildConfig(role: ProcessRole, raw: RawEnv) {
  const dataDir = path.resolve(raw.DATA_DIR);
  return {
    role,
    http: {
      port: raw.PORT ?? (role === 'worker' ? 8001 : 8000),
      host: raw.HOST ?? (role === 'standalone' ? '127.0.0.1' : '0.0.0.0'),
      corsOrigins: raw.CORS_ORIGINS.split(',')
        .map((o) => o.trim())
        .filter(Boolean),
      trustProxy: raw.TRUST_PROXY,
      secureCookies: raw.SECURE_COOKIES ?? role !== 'standalone',
      shutdownGraceMs: raw.SHUTDOWN_GRACE_SECONDS * 1000,
      rateLimitPerMinute: raw.RATE_LIMIT_PER_MINUTE,
      rateLimitChunk: raw.RATE_LIMIT_CHUNK,
      authCacheMs: raw.AUTH_CACHE_MS,
      staticDir: raw.STATIC_DIR,
    },
    webhooks: {
      rateLimitPerMinute: raw.WEBHOOK_RATE_LIMIT_PER_MINUTE,
      maxBodyBytes: raw.WEBHOOK_MAX_BODY_BYTES,
    },
    logLevel: raw.LOG_LEVEL,
    dataDir,
    database: raw.DATABASE_URL
      ? ({
          kind: 'postgres',
          url: raw.DATABASE_URL,
          poolSize: raw.DATABASE_POOL_SIZE,
          preparedStatements: raw.DATABASE_PREPARED_STATEMENTS,
        } as const)
      : ({ kind: 'pglite', dir: path.join(dataDir, 'db') } as const),
    redis: raw.REDIS_URL
      ? {
          url: raw.REDIS_URL,
          prefix: raw.REDIS_PREFIX,
          sentinel: raw.REDIS_SENTINELS
            ? {
                sentinels: raw.REDIS_SENTINELS.split(',').map((address) => {
                  const at = address.lastIndexOf(':');
                  return { host: address.slice(0, at), port: Number(address.slice(at + 1)) };
                }),
                name: raw.REDIS_SENTINEL_MASTER,
                password: raw.REDIS_SENTINEL_PASSWORD,
              }
            : undefined,
        }
      : undefined,
    blobs: blobConfig(raw, dataDir, role),
    blobGcIntervalMs: raw.BLOB_GC_INTERVAL_SECONDS * 1000,
    adminToken: raw.IPA_ADMIN_TOKEN,
    files: {
      maxUploadBytes: raw.MAX_UPLOAD_BYTES,
      userQuotaBytes: raw.USER_QUOTA_BYTES,
      userQuotaFiles: raw.USER_QUOTA_FILES,
    },
    executions: {
      timeoutMs: raw.EXECUTION_TIMEOUT_SECONDS * 1000,
      userConcurrency: raw.USER_CONCURRENCY,
      eventRetentionSeconds: raw.EVENT_RETENTION_SECONDS,
    },
    worker: {
      concurrency: raw.WORKER_CONCURRENCY,
      graceMs: raw.WORKER_GRACE_SECONDS * 1000,
      stalledIntervalMs: raw.QUEUE_STALLED_INTERVAL_MS,
      maxAttempts: raw.QUEUE_MAX_ATTEMPTS,
      reconcileIntervalMs: raw.QUEUE_RECONCILE_INTERVAL_MS,
      reconcileAgeMs: raw.QUEUE_RECONCILE_AGE_MS,
    },
    /** Fault injection for the crash-safety tests; `off` outside them. */
    testing: { crashSubmissionAt: raw.TEST_CRASH_SUBMISSION_AT },
    sandbox: {
      root: path.resolve(raw.SANDBOX_ROOT ?? path.join(dataDir, 'sandbox')),
      isolation: raw.SANDBOX_ISOLATION,
      requireIsolation: raw.SANDBOX_REQUIRE_ISOLATION,
      maxProcesses: raw.SANDBOX_MAX_PROCESSES,
      warmSpares: raw.SANDBOX_WARM_SPARES,
      idleMs: raw.SANDBOX_IDLE_SECONDS * 1000,
      acquireTimeoutMs: raw.SANDBOX_ACQUIRE_TIMEOUT_MS,
      memoryMb: raw.SANDBOX_MEMORY_MB,
      maxOutputBytes: raw.SANDBOX_MAX_OUTPUT_BYTES,
      maxFileBytes: raw.SANDBOX_MAX_FILE_BYTES,
      diskBudgetBytes: raw.SANDBOX_DISK_BUDGET_BYTES,
      maxProcs: raw.SANDBOX_MAX_PROCS,
      userQuotaBytes: raw.USER_QUOTA_BYTES,
      userQuotaFiles: raw.USER_QUOTA_FILES,
      uidRange: raw.SANDBOX_UID_RANGE,
      dataDir,
      envAllowlist: raw.SANDBOX_ENV_ALLOWLIST.split(',')
        .map((n) => n.trim())
        .filter((n) => n && !secretSettingNames.includes(n as SettingName)),
    },
    egress: {
      allow: raw.EGRESS_ALLOW,
      allowCidrs: raw.EGRESS_ALLOW_CIDRS.split(/[\s,]+/).filter(Boolean),
      denyCidrs: raw.EGRESS_DENY_CIDRS.split(/[\s,]+/).filter(Boolean),
      maxConnections: raw.EGRESS_MAX_CONNECTIONS,
      maxBytesPerExecution: raw.EGRESS_MAX_BYTES,
      requestTimeoutMs: raw.EGRESS_REQUEST_TIMEOUT_MS,
      secretsKey: raw.IPA_SECRETS_KEY,
    },
    model: {
      provider: raw.MODEL_PROVIDER,
      name: raw.MODEL_NAME,
      anthropic: { apiKey: raw.ANTHROPIC_API_KEY, baseUrl: raw.ANTHROPIC_BASE_URL },
      openai: { apiKey: raw.OPENAI_API_KEY, baseUrl: raw.OPENAI_BASE_URL },
      azure: {
        apiKey: raw.AZURE_OPENAI_API_KEY,
        resource: raw.AZURE_OPENAI_RESOURCE,
        baseUrl: raw.AZURE_OPENAI_BASE_URL,
        apiVersion: raw.AZURE_OPENAI_API_VERSION,
      },
      openaiCompatible: { baseUrl: raw.OPENAI_COMPATIBLE_BASE_URL, apiKey: raw.OPENAI_COMPATIBLE_API_KEY },
      maxSteps: raw.AGENT_MAX_STEPS,
      maxTokens: raw.AGENT_MAX_TOKENS,
      history: { maxMessages: raw.AGENT_HISTORY_MESSAGES, maxChars: raw.AGENT_HISTORY_CHARS },
      timeoutMs: raw.AGENT_TIMEOUT_SECONDS * 1000,
      maxRetries: raw.MODEL_MAX_RETRIES,
    },
  };
}

function blobConfig(raw: RawEnv, dataDir: string, role: ProcessRole) {
  const prefix = raw.BLOB_PREFIX;
  // Separate API and worker processes share no directory by default, but they share the database.
  const kind = raw.BLOB_STORE ?? (role === 'api' || role === 'worker' ? 'postgres' : 'local');
  if (kind === 'postgres') return { kind: 'postgres' } as const;
  if (kind === 's3') {
    return {
      kind: 's3',
      bucket: raw.BLOB_S3_BUCKET as string,
      prefix,
      region: raw.BLOB_S3_REGION,
      endpoint: raw.BLOB_S3_ENDPOINT,
      forcePathStyle: raw.BLOB_S3_FORCE_PATH_STYLE,
      credentials:
        raw.BLOB_S3_ACCESS_KEY_ID && raw.BLOB_S3_SECRET_ACCESS_KEY
          ? { accessKeyId: raw.BLOB_S3_ACCESS_KEY_ID, secretAccessKey: raw.BLOB_S3_SECRET_ACCESS_KEY }
          : undefined,
    } as const;
  }
  if (kind === 'azure') {
    return {
      kind: 'azure',
      connectionString: raw.BLOB_AZURE_CONNECTION_STRING as string,
      container: raw.BLOB_AZURE_CONTAINER as string,
      prefix,
    } as const;
  }
  return { kind: 'local', dir: path.resolve(raw.BLOB_DIR ?? path.join(dataDir, 'blobs')) } as const;
}

/** The README's configuration table, generated from the settings table. */
export function configurationTable(): string {
  const rows = Object.entries(settings).map(
    ([name, s]) => `| \`${name}\` | ${s.shownDefault} | ${s.description}${s.secret ? ' Secret.' : ''} |`,
  );
  return ['| name | default | meaning |', '| --- | --- | --- |', ...rows].join('\n');
}
