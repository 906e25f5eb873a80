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
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const tag = process.env.IMAGE_TAG ?? 'test';
const images = {
  backend: `localhost/ipa-platform/backend:${tag}`,
  worker: `localhost/ipa-platform/worker:${tag}`,
  frontend: `localhost/ipa-platform/frontend:${tag}`,
};
/** The worker built with `--build-arg PYTHON=true`, which must offer and run Python too. */
const workerPython = `localhost/ipa-platform/worker-python:${tag}`;
/** One script per language that prints 42, and what its finished execution must contain. */
const scripts: Record<string, string> = {
  javascript: 'console.log(6 * 7); return 6 * 7;',
  typescript: 'const answer: number = 6 * 7;\nconsole.log(answer);\nreturn answer;',
  shell: 'echo $((6 * 7))',
  python: 'print(6 * 7)',
};
const ports = { api: 18000, worker: 18001, frontend: 8080 };
const adminToken = `ipa_containertest_${randomBytes(16).toString('hex')}`;
const prefix = `ipactr${randomBytes(4).toString('hex')}`;
const failures: string[] = [];
const figures: { metric: string; value: string; goal: string; ok: boolean }[] = [];
const containers: string[] = [];

function sh(cmd: string, args: string[], options: { input?: string } = {}): string {
  const result = spawnSync(cmd, args, {
    cwd: repo,
    encoding: 'utf8',
    input: options.input,
    maxBuffer: 64 << 20,
  });
  if (result.status !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} exited ${result.status}\n${result.stdout}\n${result.stderr}`);
  }
  return result.stdout.trim();
}

function check(name: string, ok: boolean, detail = ''): void {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${name}${detail ? ` — ${detail}` : ''}`);
  if (!ok) failures.push(name);
}

function figure(metric: string, value: number, unit: string, goal: number): void {
  figures.push({
    metric,
    value: `${value.toFixed(unit === 'MB' ? 1 : 2)} ${unit}`,
    goal: `< ${goal} ${unit}`,
    ok: value < goal,
  });
}

async function waitFor(url: string, timeoutMs: number): Promise<number> {
  const started = performance.now();
  while (performance.now() - started < timeoutMs) {
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(1000) });
      if (response.ok) return performance.now() - started;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${url} not ready after ${timeoutMs} ms`);
}

type ExecutionState = { status: string; result?: unknown; error?: unknown; events?: string };

/** Submits a script and waits (≤ 30 s) for its final state. */
async function submit(
  api: string,
  headers: Record<string, string>,
  language: string,
  source: string,
): Promise<ExecutionState> {
  const created = await fetch(`${api}/executions`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ language, code: source }),
  });
  check(
    `${language} execution accepted at ${new URL(api).port}`,
    created.status === 202,
    String(created.status),
  );
  const execution = (await created.json()) as { id: string };
  let state: ExecutionState = { status: 'queued' };
  for (let i = 0; i < 300 && ['queued', 'running'].includes(state.status); i++) {
    await new Promise((r) => setTimeout(r, 100));
    state = (await (await fetch(`${api}/executions/${execution.id}`, { headers })).json()) as ExecutionState;
  }
  // output of shell and Python scripts arrives as events; the stream ends after the terminal one
  const events = await fetch(`${api}/executions/${execution.id}/events`, {
    headers,
    signal: AbortSignal.timeout(10_000),
  }).then(
    (r) => r.text(),
    (error: Error) => `events: ${error.message}`,
  );
  return { ...state, events };
}

async function offeredLanguages(api: string, headers: Record<string, string>): Promise<string[]> {
  const me = (await (await fetch(`${api}/me`, { headers })).json()) as {
    platform?: { languages?: string[] };
  };
  return me.platform?.languages ?? [];
}

/** Runs the 42-printing script of every offered language; each must succeed and show 42. */
async function runEveryLanguage(
  execute: (language: string, source: string) => Promise<ExecutionState>,
  languages: string[],
): Promise<void> {
  for (const language of languages) {
    const source = scripts[language];
    if (!source) {
      check(`${language} has a script in this test`, false);
      continue;
    }
    const final = await execute(language, source);
    const { events, ...state } = final;
    const text = JSON.stringify(state);
    check(
      `${language} script runs in the worker image and prints 42`,
      final.status === 'succeeded' && /\b42\b/.test(`${JSON.stringify(state.result)}${events ?? ''}`),
      `${text.slice(0, 300)} ${events?.slice(0, 300)}`,
    );
  }
}

/**
 * The image carries exactly what backend/dist imports at run time: scripts/containers/check-imports.mjs
 * runs inside each Node image, resolving and loading every package specifier of dist and listing
 * installed packages nothing needs.
 */
function checkRuntimeImports(): void {
  for (const image of [images.backend, images.worker, workerPython]) {
    const result = spawnSync(
      'podman',
      [
        'run',
        '--rm',
        '--network=none',
        '-v',
        `${path.join(repo, 'scripts/containers/check-imports.mjs')}:/app/backend/dist/check-imports.mjs:ro`,
        '--entrypoint',
        'node',
        image,
        '/app/backend/dist/check-imports.mjs',
      ],
      { encoding: 'utf8' },
    );
    let report: { packages?: string[]; unresolved?: string[]; unneeded?: string[] } = {};
    try {
      report = JSON.parse(result.stdout.trim().split('\n').at(-1) ?? '{}');
    } catch {
      // reported below
    }
    check(
      `${image}: every package backend/dist imports resolves and loads`,
      result.status !== null && Array.isArray(report.unresolved) && report.unresolved.length === 0,
      `${report.packages?.length ?? 0} packages; ${JSON.stringify(report.unresolved ?? result.stderr.slice(0, 400))}`,
    );
    check(
      `${image}: no installed package that backend/dist does not need`,
      Array.isArray(report.unneeded) && report.unneeded.length === 0,
      JSON.stringify(report.unneeded ?? []).slice(0, 600),
    );
  }
}

/**
 * Which seccomp filter lets bubblewrap create its namespaces, checked with the worker's own probe
 * in containers without capabilities, as Kubernetes runs the worker:
 *  - containerd's RuntimeDefault for a container without CAP_SYS_ADMIN (the chart's profile minus its
 *    bubblewrap additions, with moby's clone flag filter and clone3 → ENOSYS) refuses, also in a
 *    user-namespaced container (hostUsers: false): the filter is fixed from the capabilities;
 *  - the chart's Localhost profile (files/seccomp/ipa-worker-bwrap.json) lets bwrap in, with and
 *    without a user namespace of the container's own.
 */
function checkSeccompProfiles(): void {
  const chartProfile = JSON.parse(
    readFileSync(path.join(repo, 'helm/ipa-platform/files/seccomp/ipa-worker-bwrap.json'), 'utf8'),
  ) as { syscalls: { names: string[]; action: string; args?: unknown[] }[] };
  const bwrapSyscalls = ['clone', 'clone3', 'mount', 'pivot_root', 'umount2', 'unshare'];
  const runtimeDefault = structuredClone(chartProfile);
  runtimeDefault.syscalls = runtimeDefault.syscalls.filter(
    (s) => !(s.action === 'SCMP_ACT_ALLOW' && !s.args && s.names.every((n) => bwrapSyscalls.includes(n))),
  );
  runtimeDefault.syscalls.push(
    // CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET must be clear without CAP_SYS_ADMIN
    {
      names: ['clone'],
      action: 'SCMP_ACT_ALLOW',
      args: [{ index: 0, value: 2114060288, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }],
    },
    { names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: 38 } as never,
  );
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ipa-seccomp-'));
  const files = {
    runtimeDefault: path.join(dir, 'runtime-default.json'),
    chart: path.join(dir, 'chart.json'),
  };
  writeFileSync(files.runtimeDefault, JSON.stringify(runtimeDefault));
  writeFileSync(files.chart, JSON.stringify(chartProfile));
  const probe =
    "const m = await import('/app/backend/dist/sandbox/isolation.js'); console.log(JSON.stringify(await m.detectIsolation()));";
  const userns = ['--uidmap=0:200000:65536', '--gidmap=0:200000:65536'];
  try {
    for (const [name, file, extra, want] of [
      ['containerd RuntimeDefault', files.runtimeDefault, [], 'process'],
      [
        'containerd RuntimeDefault, user-namespaced (hostUsers: false)',
        files.runtimeDefault,
        userns,
        'process',
      ],
      ["the chart's Localhost profile", files.chart, [], 'bwrap'],
      ["the chart's Localhost profile, user-namespaced (hostUsers: false)", files.chart, userns, 'bwrap'],
    ] as const) {
      const result = spawnSync(
        'podman',
        [
          'run',
          '--rm',
          '--network=none',
          // hardened, without podman's tmpfs mounts: runc cannot copy them up under --uidmap here
          '--read-only',
          '--read-only-tmpfs=false',
          '--cap-drop=all',
          '--security-opt=no-new-privileges',
          `--security-opt=seccomp=${file}`,
          ...extra,
          '--user=10001:10001',
          '--entrypoint',
          'node',
          images.worker,
          '--input-type=module',
          '-e',
          probe,
        ],
        { encoding: 'utf8' },
      );
      let report: { level?: string; reason?: string } = {};
      try {
        report = JSON.parse(result.stdout.trim().split('\n').at(-1) ?? '{}');
      } catch {
        // reported below
      }
      check(
        `bwrap isolation with ${name}: ${want}`,
        report.level === want,
        `${report.level}: ${report.reason ?? result.stderr.trim().slice(0, 300)}`,
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

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
