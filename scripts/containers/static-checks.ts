/** Checks of the built images that need no running platform (`test.ts` runs them first). */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { check, images, repo, workerPython } from './support.js';

/**
 * The image carries exactly what backend/dist imports at run time: scripts/containers/check-imports.mjs
 * runs inside each Node image, resolving and loading every package specifier of dist and listing
 * installed packages nothing needs.
 */
export function checkRuntimeImports(): void {
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
export function checkSeccompProfiles(): void {
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
