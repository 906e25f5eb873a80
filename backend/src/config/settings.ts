import { z } from 'zod';
import { bool, int, setting, url } from './setting.js';
import { modelSettings } from './settings-model.js';

export type { Setting } from './setting.js';

/**
 * Every setting the platform reads from its environment, in one table (the model's and agent's
 * in `settings-model.ts`). The zod schema and the README's configuration table are both
 * generated from it, so the two cannot drift apart.
 */

export const settings = {
  PORT: setting(int(0, 65535).optional(), '8000 (worker: 8001)', 'Port of the HTTP server.'),
  HOST: setting(
    z.string().min(1).optional(),
    '0.0.0.0 (standalone: 127.0.0.1)',
    'Address the HTTP server binds to.',
  ),
  LOG_LEVEL: setting(
    z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    'info',
    'pino log level.',
  ),
  DATA_DIR: setting(
    z.string().min(1).default('./data'),
    './data',
    'Local state: the embedded database (standalone) and the sandbox root unless SANDBOX_ROOT is set.',
  ),
  DATABASE_URL: setting(
    url.optional(),
    '— (embedded PGlite under DATA_DIR)',
    'PostgreSQL connection URL.',
    true,
  ),
  DATABASE_POOL_SIZE: setting(int(1, 200).default(10), '10', 'Maximum PostgreSQL connections per process.'),
  DATABASE_PREPARED_STATEMENTS: setting(
    bool.default(true),
    'true',
    'Named prepared statements: each connection has PostgreSQL parse and plan a statement once, not at every use. Set false behind a transaction-mode pooler that does not carry them (PgBouncer before 1.21 or with max_prepared_statements = 0, pgcat, Supavisor).',
  ),
  REDIS_URL: setting(
    url.optional(),
    '— (in-process queue and events; standalone only)',
    'Redis URL for the queue, event streams, heartbeats and rate limits.',
    true,
  ),
  REDIS_PREFIX: setting(
    z
      .string()
      .regex(/^[a-zA-Z0-9_-]+$/)
      .default('ipa'),
    'ipa',
    'Prefix of every Redis key (lets several installations share one Redis).',
  ),
  REDIS_SENTINELS: setting(
    z
      .string()
      .regex(/^[^\s,:]+:\d{1,5}(,[^\s,:]+:\d{1,5})*$/, 'a comma-separated list of host:port')
      .optional(),
    '— (REDIS_URL names the one Redis)',
    'Redis Sentinel addresses (host:port,host:port,…); with them the platform asks the sentinels for the current primary of REDIS_SENTINEL_MASTER and follows failovers. REDIS_URL still gives the password, database and TLS.',
  ),
  REDIS_SENTINEL_MASTER: setting(
    z
      .string()
      .regex(/^[a-zA-Z0-9_.-]+$/)
      .default('mymaster'),
    'mymaster',
    'Name of the monitored primary the sentinels are asked for.',
  ),
  REDIS_SENTINEL_PASSWORD: setting(
    z.string().min(1).optional(),
    '—',
    'Password of the sentinels (when they require one).',
    true,
  ),
  BLOB_STORE: setting(
    z.enum(['local', 'postgres', 's3', 'azure']).optional(),
    'local (api, worker: postgres)',
    'Where file contents live: a directory (BLOB_DIR), a PostgreSQL table, an S3-compatible bucket or an Azure Blob container. PostgreSQL keeps the metadata in every case.',
  ),
  BLOB_DIR: setting(
    z.string().min(1).optional(),
    'DATA_DIR/blobs',
    'Directory of the local blob store (several replicas need a shared volume).',
  ),
  BLOB_PREFIX: setting(
    z
      .string()
      .regex(/^([a-zA-Z0-9_.-]+\/)*$/, 'empty or segments ending in /')
      .default(''),
    '— (none)',
    'Key prefix inside the bucket or container, e.g. ipa/ (lets several installations share one).',
  ),
  BLOB_S3_BUCKET: setting(z.string().min(3).max(63).optional(), '—', 'S3 bucket (BLOB_STORE=s3).'),
  BLOB_S3_REGION: setting(z.string().min(1).default('us-east-1'), 'us-east-1', 'S3 region.'),
  BLOB_S3_ENDPOINT: setting(
    url.optional(),
    '— (AWS)',
    'Endpoint of an S3-compatible server (MinIO, Ceph, …).',
  ),
  BLOB_S3_FORCE_PATH_STYLE: setting(
    bool.default(false),
    'false',
    'Path-style bucket URLs, as most S3-compatible servers need.',
  ),
  BLOB_S3_ACCESS_KEY_ID: setting(
    z.string().min(1).optional(),
    '— (the SDK default chain: environment, web identity, instance role)',
    'S3 access key id.',
    true,
  ),
  BLOB_S3_SECRET_ACCESS_KEY: setting(z.string().min(1).optional(), '—', 'S3 secret access key.', true),
  BLOB_AZURE_CONNECTION_STRING: setting(
    z.string().min(1).optional(),
    '—',
    'Azure Storage connection string (BLOB_STORE=azure).',
    true,
  ),
  BLOB_AZURE_CONTAINER: setting(
    z
      .string()
      .regex(/^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$/)
      .optional(),
    '—',
    'Azure Blob container (BLOB_STORE=azure).',
  ),
  BLOB_GC_INTERVAL_SECONDS: setting(
    int(1, 86_400).default(300),
    '300',
    'How often unreferenced blobs are collected and contents still inside PostgreSQL (from before blob storage) are moved out.',
  ),
  IPA_ADMIN_TOKEN: setting(
    z.string().min(24).optional(),
    '— (standalone generates one on first start)',
    'Bootstrap admin token; at least 24 characters.',
    true,
  ),
  STATIC_DIR: setting(
    z.string().optional(),
    'frontend/dist when present',
    'Directory of the built web app served at / (standalone and api).',
  ),
  CORS_ORIGINS: setting(
    z.string().default(''),
    '— (CORS off)',
    'Comma-separated origins allowed to call the API from a browser.',
  ),
  TRUST_PROXY: setting(bool.default(false), 'false', 'Trust X-Forwarded-* headers (behind an ingress).'),
  SECURE_COOKIES: setting(
    bool.optional(),
    'true unless standalone',
    'Mark the session cookie Secure (HTTPS only).',
  ),
  SHUTDOWN_GRACE_SECONDS: setting(
    int(0, 3600).default(25),
    '25',
    'API: time to finish in-flight requests after SIGTERM.',
  ),
  RATE_LIMIT_PER_MINUTE: setting(
    int(1, 1_000_000).default(600),
    '600',
    'Requests per minute per token (or per address when unauthenticated).',
  ),
  RATE_LIMIT_CHUNK: setting(
    int(1, 1_000_000).optional(),
    'limit ÷ 50 (1–50)',
    'Requests of a token an API replica takes from the shared (Redis) rate limit at a time and then counts locally; a user spreading requests over R replicas may be refused up to (R − 1) × (chunk − 1) requests early, never admitted more.',
  ),
  AUTH_CACHE_MS: setting(
    int(0, 60_000).default(2000),
    '2000',
    'How long an API replica remembers a token it checked; a revoked token stops at once on the replica that revoked it and within this time on the others (0: no cache).',
  ),
  WEBHOOK_RATE_LIMIT_PER_MINUTE: setting(
    int(1, 1_000_000).default(60),
    '60',
    'Deliveries per minute to one webhook trigger (`/hooks/<id>`), counted across replicas.',
  ),
  WEBHOOK_MAX_BODY_BYTES: setting(
    int(1, 16 * 1024 * 1024).default(1024 * 1024),
    '1048576',
    'Largest webhook delivery body.',
  ),
  MAX_UPLOAD_BYTES: setting(int(1, 2 ** 31).default(25 * 1024 * 1024), '26214400', 'Largest file upload.'),
  USER_QUOTA_BYTES: setting(
    int(1, 2 ** 40).default(200 * 1024 * 1024),
    '209715200',
    'Total size of one user’s files.',
  ),
  USER_QUOTA_FILES: setting(
    int(1, 10_000_000).default(10_000),
    '10000',
    'Number of files one user may keep; a run that leaves more fails quota_exceeded and nothing of it is stored.',
  ),
  EXECUTION_TIMEOUT_SECONDS: setting(
    int(1, 86_400).default(300),
    '300',
    'Wall-clock limit of one execution; over it the execution ends timed_out.',
  ),
  USER_CONCURRENCY: setting(
    int(1, 100).default(2),
    '2',
    'Executions of one user that may run at once across the platform.',
  ),
  WORKER_CONCURRENCY: setting(int(1, 256).default(4), '4', 'Executions one worker runs at once.'),
  WORKER_GRACE_SECONDS: setting(
    int(0, 86_400).default(30),
    '30',
    'Worker: time running executions get to finish after SIGTERM before they are re-queued.',
  ),
  QUEUE_STALLED_INTERVAL_MS: setting(
    int(1000, 600_000).default(15_000),
    '15000',
    'How often a job whose worker died is detected and handed to another worker.',
  ),
  QUEUE_MAX_ATTEMPTS: setting(
    int(1, 20).default(5),
    '5',
    'Deliveries per execution (a worker crashed or was drained under it) before it fails as worker_lost.',
  ),
  QUEUE_RECONCILE_INTERVAL_MS: setting(
    int(100, 600_000).default(10_000),
    '10000',
    'Worker: how often it looks for unfinished executions whose job was lost (an API killed mid-submission, a job given up on) and queues them again.',
  ),
  QUEUE_RECONCILE_AGE_MS: setting(
    int(100, 3_600_000).default(15_000),
    '15000',
    'How old an unfinished execution without a live job must be before it is queued again; keep it above the API’s longest submission (10 s).',
  ),
  TEST_CRASH_SUBMISSION_AT: setting(
    z.enum(['off', 'after-row', 'after-event', 'after-enqueue']).default('off'),
    'off',
    'For tests only (fault injection): the API kills itself with SIGKILL at this step of every submission. Never set it in production.',
  ),
  EVENT_RETENTION_SECONDS: setting(
    int(10, 30 * 86_400).default(86_400),
    '86400',
    'How long an execution’s event stream is kept after its terminal event.',
  ),
  SANDBOX_ROOT: setting(
    z.string().min(1).optional(),
    'DATA_DIR/sandbox',
    'Per-user sandbox directories: <root>/<user-id>/{uploads,workspace,outputs}.',
  ),
  SANDBOX_ISOLATION: setting(
    z.enum(['auto', 'bwrap', 'process']).default('auto'),
    'auto',
    'auto picks bwrap when user namespaces work, else process.',
  ),
  SANDBOX_REQUIRE_ISOLATION: setting(
    z.enum(['none', 'bwrap']).default('none'),
    'none',
    'bwrap: refuse to start a worker that cannot reach bwrap isolation.',
  ),
  SANDBOX_MAX_PROCESSES: setting(int(1, 1024).default(16), '16', 'Live sandbox processes per worker.'),
  SANDBOX_WARM_SPARES: setting(
    int(0, 64).default(2),
    '2',
    'Sandbox processes kept started for new users and crash replacements (bwrap level; count against SANDBOX_MAX_PROCESSES); 0 disables.',
  ),
  SANDBOX_IDLE_SECONDS: setting(
    int(1, 86_400).default(300),
    '300',
    'An idle sandbox process is reaped after this.',
  ),
  SANDBOX_ACQUIRE_TIMEOUT_MS: setting(
    int(1, 600_000).default(30_000),
    '30000',
    'How long a caller waits for a sandbox slot when all are busy.',
  ),
  SANDBOX_MEMORY_MB: setting(int(32, 65_536).default(512), '512', 'Memory limit of one sandbox process.'),
  SANDBOX_MAX_OUTPUT_BYTES: setting(
    int(1024, 2 ** 31).default(1024 * 1024),
    '1048576',
    'stdout + stderr kept from one code run; the rest is dropped and reported.',
  ),
  SANDBOX_MAX_FILE_BYTES: setting(
    int(1024, 2 ** 40).default(50 * 1024 * 1024),
    '52428800',
    'Largest file a sandbox may write.',
  ),
  SANDBOX_DISK_BUDGET_BYTES: setting(
    int(0, 2 ** 50).default(0),
    '0 (no budget)',
    "Disk the users' sandbox directories on one worker may take together; past it the least recently used ones (never one in use) are removed. The chart sets it from worker.sandbox.diskBudget.",
  ),
  SANDBOX_MAX_PROCS: setting(
    int(1, 100_000).default(64),
    '64',
    'Process limit inside a sandbox (bwrap level).',
  ),
  SANDBOX_UID_RANGE: setting(
    z
      .string()
      .default('100000-165535')
      .transform((value, ctx) => {
        const match = /^\s*(\d+)\s*-\s*(\d+)\s*$/.exec(value);
        const first = Number(match?.[1]);
        const last = Number(match?.[2]);
        if (!match || !(first >= 1000) || !(last >= first + 1) || last > 4_294_967_294) {
          ctx.addIssue({
            code: z.ZodIssueCode.custom,
            message: 'expected "<first>-<last>": two uids, first ≥ 1000, last > first, last < 4294967295',
          });
          return z.NEVER;
        }
        return { first, last };
      }),
    '100000-165535',
    'uids (and gids) a root worker gives its sandboxes, one per live sandbox; unused when not root.',
  ),
  SANDBOX_ENV_ALLOWLIST: setting(
    z.string().default('LANG,TZ'),
    'LANG,TZ',
    'Worker environment variables copied into sandboxes (secrets are never copied).',
  ),
  EGRESS_ALLOW: setting(
    z.string().default(''),
    '— (no egress)',
    'Destinations sandboxes may reach through the egress proxy: host names (`api.example.com`, `*.example.com`) with optional ports (`host:443|8443`; default 443 and 80), comma-separated. Users and automations can only narrow it.',
  ),
  EGRESS_ALLOW_CIDRS: setting(
    z.string().default(''),
    '—',
    'Address ranges an allowed name may resolve to although they are private, loopback, link-local or reserved (comma-separated CIDRs).',
  ),
  EGRESS_DENY_CIDRS: setting(
    z.string().default(''),
    '—',
    "More ranges egress never connects to, e.g. the cluster's pod and service ranges (comma-separated CIDRs).",
  ),
  EGRESS_MAX_CONNECTIONS: setting(int(1, 10_000).default(16), '16', 'Open egress connections per sandbox.'),
  EGRESS_MAX_BYTES: setting(
    int(1024, Number.MAX_SAFE_INTEGER).default(100 * 1024 * 1024),
    '104857600 (100 MiB)',
    'Bytes an execution may send and receive through the egress proxy.',
  ),
  EGRESS_REQUEST_TIMEOUT_MS: setting(
    int(100, 3_600_000).default(30_000),
    '30000',
    'Longest time of one proxied request or tunnel.',
  ),
  IPA_SECRETS_KEY: setting(
    z.string().min(1).optional(),
    '— (user secrets disabled)',
    'Keys that encrypt user secrets at rest (AES-256-GCM): `id:base64-32-bytes`, comma-separated; the first encrypts, the others still decrypt until rotation re-encrypts their secrets.',
    true,
  ),
  ...modelSettings,
};

export type SettingName = keyof typeof settings;

export const secretSettingNames: readonly SettingName[] = (Object.keys(settings) as SettingName[]).filter(
  (name) => settings[name].secret,
);
