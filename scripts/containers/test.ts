/**
 * Container test: builds the three images from the unchanged Dockerfiles (base images from
 * Debian packages passed as build arguments), runs them hardened (read-only root, all
 * capabilities dropped, no-new-privileges, non-root) against the host's PostgreSQL and Redis,
 * and proves through the web app's /api proxy that a script runs in a sandbox inside the worker
 * container and cannot write outside /data/sandbox. Prints the figures of issue "Containers".
 *
 *   npm run test:containers            (COLD=1 builds without the layer cache)
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import pg from 'pg';

import { removeRedisKeys } from '../../backend/test/support/run-leftovers.js';
import { checkRuntimeImports, checkSeccompProfiles } from './static-checks.js';
import {
  check,
  failures,
  figure,
  figures,
  images,
  offeredLanguages,
  repo,
  runEveryLanguage,
  sh,
  submit,
  waitFor,
  workerPython,
} from './support.js';

const ports = { api: 18000, worker: 18001, frontend: 8080 };
const adminToken = `ipa_containertest_${randomBytes(16).toString('hex')}`;
const prefix = `ipactr${randomBytes(4).toString('hex')}`;

const containers: string[] = [];

const hardened = [
  '--read-only',
  '--cap-drop=all',
  '--security-opt=no-new-privileges',
  '--tmpfs=/tmp:rw,size=64m,mode=1777',
  '--network=host',
];

function run(
  name: string,
  image: string,
  env: Record<string, string>,
  args: string[] = [],
  extra: string[] = [],
) {
  const envArgs = Object.entries(env).flatMap(([k, v]) => ['-e', `${k}=${v}`]);
  spawnSync('podman', ['rm', '-f', name]);
  const started = performance.now();
  sh('podman', ['run', '-d', '--name', name, ...hardened, ...extra, ...envArgs, image, ...args]);
  containers.push(name);
  return started;
}

async function main(): Promise<void> {
  sh('bash', ['scripts/containers/setup-podman.sh']);
  const baseOut = sh('bash', ['scripts/containers/build-base-images.sh']);
  const base = Object.fromEntries(baseOut.split('\n').map((l) => l.split('=') as [string, string]));
  const nodeImage = base.NODE_IMAGE!;
  const nginxImage = base.NGINX_IMAGE!;
  const revision = sh('git', ['rev-parse', '--short', 'HEAD']);
  const version = JSON.parse(sh('cat', ['package.json'])).version as string;
  const common = [
    'build',
    // the docker format keeps HEALTHCHECK (the OCI format has no field for it)
    '--format=docker',
    '--network=host',
    '--build-arg',
    `NODE_IMAGE=${nodeImage}`,
    '--build-arg',
    `VERSION=${version}`,
    '--build-arg',
    `REVISION=${revision}`,
    ...(process.env.COLD === '1' ? ['--no-cache'] : []),
  ];

  const buildStarted = performance.now();
  for (const [name, file, extra, image] of [
    ['backend', 'backend/Dockerfile', [], images.backend],
    ['worker', 'backend/Dockerfile.worker', [], images.worker],
    ['frontend', 'frontend/Dockerfile', ['--build-arg', `NGINX_IMAGE=${nginxImage}`], images.frontend],
  ] as const) {
    const t = performance.now();
    execFileSync('podman', [...common, ...extra, '-f', file, '-t', image, '.'], {
      cwd: repo,
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    console.log(`built ${image} (${name}) in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  }
  {
    const t = performance.now();
    execFileSync(
      'podman',
      [...common, '--build-arg', 'PYTHON=true', '-f', 'backend/Dockerfile.worker', '-t', workerPython, '.'],
      { cwd: repo, stdio: ['ignore', 'ignore', 'inherit'] },
    );
    console.log(
      `built ${workerPython} in ${((performance.now() - t) / 1000).toFixed(1)} s (not in the build-time figure)`,
    );
  }
  figure(
    `build time of all three images and the Python worker (${process.env.COLD === '1' ? 'cold' : 'with layer cache'})`,
    (performance.now() - buildStarted) / 1000,
    's',
    process.env.COLD === '1' ? 180 : 300,
  );

  const size = (image: string) =>
    Number(sh('podman', ['image', 'inspect', '--format', '{{.Size}}', image])) / 1e6;
  console.log(`worker-python image: ${size(workerPython).toFixed(0)} MB`);
  for (const [name, baseImage] of [
    ['backend', nodeImage],
    ['worker', nodeImage],
    ['frontend', nginxImage],
  ] as const) {
    figure(
      `${name} image adds to its base (${size(images[name]).toFixed(0)} MB vs ${size(baseImage).toFixed(0)} MB)`,
      size(images[name]) - size(baseImage),
      'MB',
      80,
    );
    const user = sh('podman', ['image', 'inspect', '--format', '{{.Config.User}}', images[name]]);
    check(`${name} image runs as numeric user ≥ 10000`, /^1\d{4,}(:\d+)?$/.test(user), user);
    const labels = JSON.parse(
      sh('podman', ['image', 'inspect', '--format', '{{json .Labels}}', images[name]]),
    ) as Record<string, string>;
    // Buildah's layer cache does not key a LABEL step on the ARG values it uses, so an image whose
    // other layers are unchanged may keep the revision of the build that made them: any real
    // commit id is accepted, the placeholder default is not.
    const labelRevision = labels['org.opencontainers.image.revision'] ?? '';
    check(
      `${name} image has OCI labels`,
      /^[0-9a-f]{7,40}$/.test(labelRevision) &&
        labels['org.opencontainers.image.version'] === version &&
        (labels['org.opencontainers.image.source'] ?? '').startsWith('https://'),
      `revision ${labelRevision} (HEAD ${revision})`,
    );
  }

  checkRuntimeImports();
  checkSeccompProfiles();

  // A database of its own on the host's PostgreSQL.
  const dbName = `ipa_containers_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: 'postgres://postgres@127.0.0.1:5432/postgres' });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${dbName}`);
  const env = {
    DATABASE_URL: `postgres://postgres@127.0.0.1:5432/${dbName}`,
    REDIS_URL: 'redis://127.0.0.1:6379/0',
    REDIS_PREFIX: prefix,
    IPA_ADMIN_TOKEN: adminToken,
    // a secret the sandbox must never see
    ANTHROPIC_API_KEY: 'sk-ant-container-test-secret',
  };
  try {
    sh('podman', [
      'run',
      '--rm',
      ...hardened,
      ...Object.entries(env).flatMap(([k, v]) => ['-e', `${k}=${v}`]),
      images.backend,
      'migrate',
    ]);
    check('migration one-shot exits 0', true);

    const apiStart = run('ipa-ct-api', images.backend, { ...env, PORT: String(ports.api) });
    await waitFor(`http://127.0.0.1:${ports.api}/health/ready`, 30_000);
    figure('API start to ready', (performance.now() - apiStart) / 1000, 's', 3);
    const workerStart = run('ipa-ct-worker', images.worker, { ...env, PORT: String(ports.worker) });
    await waitFor(`http://127.0.0.1:${ports.worker}/health/ready`, 30_000);
    figure('worker start to ready', (performance.now() - workerStart) / 1000, 's', 3);
    const frontendStart = run('ipa-ct-frontend', images.frontend, {
      BACKEND_URL: `http://127.0.0.1:${ports.api}`,
    });
    await waitFor(`http://127.0.0.1:${ports.frontend}/healthz`, 30_000);
    figure('frontend start to ready', (performance.now() - frontendStart) / 1000, 's', 3);

    for (const name of ['ipa-ct-api', 'ipa-ct-worker', 'ipa-ct-frontend']) {
      const health = spawnSync('podman', ['healthcheck', 'run', name], { encoding: 'utf8' });
      check(`${name} HEALTHCHECK passes`, health.status === 0, (health.stdout + health.stderr).trim());
      const uid = sh('podman', ['top', name, 'huser']).split('\n').slice(1);
      check(
        `${name} processes run as uid 10001`,
        uid.length > 0 && uid.every((u) => u.trim() === '10001'),
        uid.join(','),
      );
    }

    const workerHealth = (await (await fetch(`http://127.0.0.1:${ports.worker}/health`)).json()) as Record<
      string,
      unknown
    >;
    const isolation = String(
      workerHealth.isolation ?? (workerHealth.sandbox as { isolation?: string })?.isolation,
    );
    const isolationReason = String(workerHealth.isolationReason ?? '');
    console.log(`worker reports sandbox isolation: ${isolation} (${isolationReason})`);
    check(
      'worker /health reports its isolation level and why',
      (isolation === 'bwrap' || isolation === 'process') && isolationReason.length > 0,
      `${isolation}: ${isolationReason}`,
    );
    const workerLog = spawnSync('podman', ['logs', 'ipa-ct-worker'], { encoding: 'utf8' });
    check(
      'worker start-up line names the isolation level and the reason',
      `${workerLog.stdout}${workerLog.stderr}`.includes(`(isolation ${isolation}: ${isolationReason})`),
      `${workerLog.stdout}${workerLog.stderr}`.trim().split('\n').slice(0, 3).join(' | ').slice(0, 300),
    );

    // Through the web app's proxy: a script that tries to write everywhere.
    const api = `http://127.0.0.1:${ports.frontend}/api/v1`;
    const headers = { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' };
    const index = await fetch(`http://127.0.0.1:${ports.frontend}/`);
    check(
      'web app served with CSP',
      index.ok && (index.headers.get('content-security-policy') ?? '').includes("frame-ancestors 'none'"),
    );
    const code = `
      const fs = require('node:fs');
      const attempts = {};
      for (const target of ['/etc/ipa-escape', '/data/escape', '/app/escape', '/tmp/escape', '../../escape', '/data/sandbox/escape']) {
        try { fs.writeFileSync(target, 'x'); attempts[target] = 'written'; } catch (e) { attempts[target] = 'refused'; }
      }
      fs.mkdirSync('../outputs', { recursive: true });
      fs.writeFileSync('../outputs/proof.txt', 'inside');
      attempts.env = Object.keys(process.env).filter((k) => /KEY|TOKEN|DATABASE|REDIS/.test(k));
      console.log(JSON.stringify(attempts));
      return attempts;`;
    /** Submits a script through the web app's proxy and waits (≤ 30 s) for its final state. */
    const execute = (language: string, source: string) => submit(api, headers, language, source);
    const final = await execute('javascript', code);
    check(
      'script execution succeeded inside the worker container',
      final.status === 'succeeded',
      `${final.status} ${JSON.stringify(final.error ?? final.result)}`.slice(0, 600),
    );
    // The execution's result holds the script's own return value under `result`.
    const attempts = (final.result as { result?: { env?: string[] } } | undefined)?.result ?? {};
    const text = JSON.stringify(attempts);
    // The container's own filesystem must be out of reach. At bwrap level `/tmp` and the root
    // seen by the script are the sandbox's private tmpfs, so a write there may succeed: what
    // counts is that nothing lands in the container (checked with podman exec below).
    const writtenOutside = /"(\/etc|\/data\/escape|\/data\/sandbox\/escape|\/app)[^"]*":"written"/.test(text);
    check(
      'sandboxed code cannot write to the container outside its user directory',
      !writtenOutside && text.includes('refused'),
      text,
    );
    check(
      'no credentials in the sandbox environment',
      Array.isArray(attempts.env) && !/KEY|TOKEN|DATABASE|REDIS/.test(JSON.stringify(attempts.env)),
    );
    const proof = await fetch(`${api}/files/outputs/proof.txt`, { headers });
    check(
      'file written in the sandbox is stored and downloadable',
      proof.ok && (await proof.text()) === 'inside',
    );
    // Every language the platform offers runs; the default image has no python3 and must say so.
    const offered = await offeredLanguages(api, headers);
    const expected =
      isolation === 'bwrap' ? ['javascript', 'typescript', 'shell'] : ['javascript', 'typescript'];
    check(
      `the default worker offers ${expected.join(', ')} and no Python`,
      JSON.stringify(offered) === JSON.stringify(expected),
      JSON.stringify(offered),
    );
    await runEveryLanguage(execute, offered);
    const python = await fetch(`${api}/executions`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ language: 'python', code: 'print(1)' }),
    });
    const refusal = (await python.json()) as { error?: { code?: string } };
    check(
      'a Python script is refused with a clear 4xx',
      python.status >= 400 && python.status < 500 && typeof refusal.error?.code === 'string',
      `${python.status} ${JSON.stringify(refusal)}`,
    );
    const hostEscape = spawnSync(
      'podman',
      [
        'exec',
        'ipa-ct-worker',
        'sh',
        '-c',
        'ls -d /etc/ipa-escape /data/escape /data/sandbox/escape /app/escape /tmp/escape /escape 2>/dev/null',
      ],
      { encoding: 'utf8' },
    );
    check(
      'nothing appeared outside /data/sandbox in the worker container',
      hostEscape.stdout.trim() === '',
      hostEscape.stdout.trim(),
    );

    // SIGTERM when idle must stop each container well inside its timeout.
    for (const name of ['ipa-ct-frontend', 'ipa-ct-api', 'ipa-ct-worker']) {
      const t = performance.now();
      sh('podman', ['stop', '-t', '10', name]);
      const seconds = (performance.now() - t) / 1000;
      figure(`${name.replace('ipa-ct-', '')} stop after SIGTERM (idle)`, seconds, 's', 2);
      const exit = sh('podman', ['inspect', '--format', '{{.State.ExitCode}}', name]);
      check(`${name} exits cleanly on SIGTERM`, exit === '0', `exit ${exit}`);
    }

    // The Python build of the worker: Python is offered and runs, beside the other languages.
    run('ipa-ct-api2', images.backend, { ...env, PORT: String(ports.api) });
    await waitFor(`http://127.0.0.1:${ports.api}/health/ready`, 30_000);
    run('ipa-ct-worker-python', workerPython, { ...env, PORT: String(ports.worker) });
    await waitFor(`http://127.0.0.1:${ports.worker}/health/ready`, 30_000);
    const direct = `http://127.0.0.1:${ports.api}/api/v1`;
    const offeredWithPython = await offeredLanguages(direct, headers);
    check(
      'the Python worker offers python',
      offeredWithPython.includes('python'),
      JSON.stringify(offeredWithPython),
    );
    await runEveryLanguage(
      (language, source) => submit(direct, headers, language, source),
      offeredWithPython,
    );
  } finally {
    for (const name of containers) spawnSync('podman', ['rm', '-f', name]);
    await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`).catch(() => {});
    await admin.end();
    // The platform's keys under this run's prefix: the test leaves nothing in the host's Redis.
    await removeRedisKeys(env.REDIS_URL, [prefix]);
  }

  console.log('\n| metric | measured | goal |\n| --- | --- | --- |');
  for (const f of figures) console.log(`| ${f.metric} | ${f.value} | ${f.goal}${f.ok ? '' : ' (missed)'} |`);
  console.log(
    `\ncontainers: ${failures.length === 0 ? 'all checks passed' : `${failures.length} checks failed`}`,
  );
  if (failures.length > 0) {
    console.error(`container test failed: ${failures.join('; ')}`);
    process.exit(1);
  }
}

main().catch((error: unknown) => {
  console.error(error);
  for (const name of containers) spawnSync('podman', ['rm', '-f', name]);
  process.exit(1);
});
