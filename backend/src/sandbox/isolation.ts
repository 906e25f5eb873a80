/**
 * Isolation levels (docs/security.md): how a sandbox process is wrapped on this machine.
 * - `bwrap`: bubblewrap with new user, mount, pid, net, ipc and uts namespaces; only the runtime
 *   (read-only) and the user's own directory (read-write) are visible; no `/proc`, no network.
 * - `process`: a separate process under rlimits and Node's permission model — fit for trusted
 *   code only.
 * When the worker runs as root, every sandbox additionally runs under an unprivileged uid
 * (`setpriv`), because the kernel does not apply the process-count limit to root.
 */
import fs from 'node:fs';
import path from 'node:path';
import { processEnvironment } from '../config/index.js';
import { baseLanguages } from '../lib/vocabulary.js';
import type { RuntimeEntry } from './runtime-entry.js';
import { runTool } from './tool.js';
import type { IsolationLevel, ScriptLanguage } from './types.js';
import type { SandboxOwner } from './workspace.js';

export interface IsolationReport {
  level: IsolationLevel;
  /** Why this level: what was found or what failed. */
  reason: string;
  bwrapPath?: string;
  /** bwrap can cap the size of the sandbox's private /tmp (`--size`, bubblewrap ≥ 0.6). */
  bwrapTmpSize?: boolean;
}

/** Paths visible at the same place inside a bwrap sandbox. */
const systemDirs = ['/usr', '/lib', '/lib64', '/lib32', '/bin', '/sbin'];
/** The sandbox's own view. */
export const insideRuntimeDir = '/sandbox/runtime';
export const insideUserDir = '/sandbox/user';
/** The egress proxy's socket inside a bwrap sandbox (the runtime reads it from IPA_EGRESS_SOCKET). */
export const insideEgressSocket = '/sandbox/egress.sock';

export function findExecutable(name: string): string | undefined {
  for (const dir of (processEnvironment().PATH ?? '/usr/local/bin:/usr/bin:/bin')
    .split(':')
    .concat(['/usr/bin', '/bin'])) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      // next
    }
  }
  return undefined;
}

/** The uid/gid sandboxes run under: the worker's own, except that root drops to nobody. */
export function defaultOwner(): SandboxOwner | undefined {
  return process.getuid?.() === 0 ? { uid: 65_534, gid: 65_534 } : undefined;
}

function privilegeDrop(owner: SandboxOwner | undefined): string[] {
  if (!owner) return [];
  const setpriv = findExecutable('setpriv');
  if (!setpriv)
    throw new Error(
      'the worker runs as root and setpriv (util-linux) is missing: cannot drop privileges for sandboxes',
    );
  return [setpriv, `--reuid=${owner.uid}`, `--regid=${owner.gid}`, '--clear-groups', '--'];
}

function systemMounts(execPath: string): string[] {
  const args: string[] = [];
  for (const dir of systemDirs) {
    let stat: fs.Stats;
    try {
      stat = fs.lstatSync(dir);
    } catch {
      continue;
    }
    if (stat.isSymbolicLink()) args.push('--symlink', fs.readlinkSync(dir), dir);
    else if (stat.isDirectory()) args.push('--ro-bind', dir, dir);
  }
  if (!systemDirs.some((dir) => execPath.startsWith(`${dir}/`))) args.push('--ro-bind', execPath, execPath);
  return args;
}

function bwrapArgs(
  bwrap: string,
  execPath: string,
  env: Record<string, string>,
  tmpBytes?: number,
): string[] {
  const args = [
    bwrap,
    '--unshare-all',
    '--unshare-user',
    '--die-with-parent',
    '--new-session',
    // The UTS namespace is new, but no --hostname: sethostname() is refused under the seccomp
    // profile of unprivileged containers (podman, CRI-O) even inside the user namespace, and
    // bwrap would fail there for a cosmetic setting.
    '--clearenv',
  ];
  for (const [name, value] of Object.entries(env)) args.push('--setenv', name, value);
  args.push(...systemMounts(execPath), '--dev', '/dev');
  // The private /tmp lives in memory and outside the disk quota: capped where bwrap can.
  if (tmpBytes !== undefined) args.push('--size', String(tmpBytes));
  args.push('--tmpfs', '/tmp');
  return args;
}

let detected: Promise<IsolationReport> | undefined;

/**
 * Finds the strongest level that works here: bwrap must be installed AND able to create its
 * namespaces (it cannot inside many containers). Runs a real bwrap once; the answer is cached.
 */
export function detectIsolation(): Promise<IsolationReport> {
  detected ??= probeBwrap();
  return detected;
}

async function probeBwrap(): Promise<IsolationReport> {
  const bwrap = findExecutable('bwrap');
  if (!bwrap) return { level: 'process', reason: 'bubblewrap (bwrap) is not installed' };
  let args: string[];
  try {
    args = [
      ...privilegeDrop(defaultOwner()),
      ...bwrapArgs(bwrap, process.execPath, {}),
      '--',
      process.execPath,
      '-e',
      '0',
    ];
  } catch (error) {
    return { level: 'process', reason: (error as Error).message };
  }
  const stderr: string[] = [];
  const code = await runTool(args, { env: {}, onStderrLine: (line) => stderr.push(line) }).catch(
    (error: Error) => {
      stderr.push(error.message);
      return -1;
    },
  );
  if (code !== 0) {
    return {
      level: 'process',
      reason: `bwrap cannot create its namespaces here: ${stderr.join('\n').trim().slice(0, 300) || `exit ${code}`}`,
      bwrapPath: bwrap,
    };
  }
  const help: string[] = [];
  await runTool([bwrap, '--help'], { env: {}, onStdoutLine: (line) => help.push(line) }).catch(
    () => undefined,
  );
  return {
    level: 'bwrap',
    reason: 'bwrap runs with user, mount, pid, net, ipc and uts namespaces',
    bwrapPath: bwrap,
    bwrapTmpSize: help.some((line) => /--size\b/.test(line)),
  };
}

/** Languages at a level: shell and Python only inside namespaces, Python only where installed. */
export function languagesAt(level: IsolationLevel): ScriptLanguage[] {
  if (level !== 'bwrap') return [...baseLanguages];
  return ['javascript', 'typescript', 'shell', ...(findExecutable('python3') ? (['python'] as const) : [])];
}

export interface SandboxLimits {
  memoryMb: number;
  /**
   * Added to RLIMIT_DATA on top of memoryMb: address space the Node binary reserves at start
   * (found by `dataHeadroomMb`; 0 on Node 20, several hundred MB on newer releases).
   */
  dataHeadroomMb?: number;
  maxFileBytes: number;
  maxProcs: number;
  openFiles: number;
}

/** Node ≥ 22.13 / 23.5 spells the permission flag `--permission`; Node 20 only knows the experimental one. */
export function permissionFlag(version = process.versions.node): string {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  const stable = major > 23 || (major === 23 && minor >= 5) || (major === 22 && minor >= 13);
  return stable ? '--permission' : '--experimental-permission';
}

function rlimits(limits: SandboxLimits, withProcessCount: boolean): string[] {
  const prlimit = findExecutable('prlimit');
  if (!prlimit) throw new Error('prlimit (util-linux) is missing: sandbox resource limits cannot be applied');
  const bytes = (limits.memoryMb + (limits.dataHeadroomMb ?? 0)) * 1024 * 1024;
  return [
    prlimit,
    `--data=${bytes}`,
    `--fsize=${limits.maxFileBytes}`,
    `--nofile=${limits.openFiles}`,
    '--core=0',
    ...(withProcessCount ? [`--nproc=${limits.maxProcs}`] : []),
    '--',
  ];
}

/** V8 flags that keep the JavaScript heap inside a sandbox's memory limit. */
export function heapFlags(memoryMb: number): string[] {
  // The heap must reach its own limit before the data limit stops an allocation in native code
  // (V8's page allocator, the garbage collector's worklists, `new`): V8 then ends the process
  // with "heap out of memory" instead of a bare SIGSEGV or std::bad_alloc. The young generation
  // (three semi-spaces, 16 MB each by default) and the collector's own memory come on top of the
  // old space, so the old space gets 60 % and the semi-spaces 8 MB.
  return [`--max-old-space-size=${Math.max(16, Math.floor(memoryMb * 0.6))}`, '--max-semi-space-size=8'];
}

function nodeArgs(limits: SandboxLimits): string[] {
  return [...heapFlags(limits.memoryMb), '--no-warnings', '--disallow-code-generation-from-strings'];
}

export interface SandboxCommand {
  command: string;
  args: string[];
  env: Record<string, string>;
  /** The user's directory and the runtime as the sandbox sees them. */
  insideUserDir: string;
}

/** The full command line of one sandbox process at `level`. */
export function sandboxCommand(input: {
  level: IsolationLevel;
  bwrapPath?: string;
  /** Size cap of the private /tmp (bwrap level), when bwrap supports one. */
  tmpBytes?: number;
  runtime: RuntimeEntry;
  userDir: string;
  owner: SandboxOwner | undefined;
  limits: SandboxLimits;
  env: Record<string, string>;
  settings: (insideUserDir: string) => string;
  /** Host path of this sandbox's egress proxy socket, if it has one. */
  egressSocket?: string;
}): SandboxCommand {
  const execPath = process.execPath;
  let argv: string[];
  let inside: string;
  if (input.level === 'bwrap') {
    inside = insideUserDir;
    const runtimeFile = path.posix.join(
      insideRuntimeDir,
      path.relative(input.runtime.dir, input.runtime.file),
    );
    const egress: { env: Record<string, string>; mount: string[] } = input.egressSocket
      ? {
          env: { IPA_EGRESS_SOCKET: insideEgressSocket },
          mount: ['--bind', input.egressSocket, insideEgressSocket],
        }
      : { env: {}, mount: [] };
    argv = [
      ...privilegeDrop(input.owner),
      ...bwrapArgs(
        input.bwrapPath ?? 'bwrap',
        execPath,
        { ...input.env, ...egress.env, HOME: inside },
        input.tmpBytes,
      ),
      '--ro-bind',
      input.runtime.dir,
      insideRuntimeDir,
      '--bind',
      input.userDir,
      inside,
      ...egress.mount,
      '--chdir',
      `${inside}/workspace`,
      '--',
      // Inside the new user namespace the process count is this sandbox's alone.
      ...rlimits(input.limits, true),
      execPath,
      ...nodeArgs(input.limits),
      runtimeFile,
      input.settings(inside),
    ];
  } else {
    inside = input.userDir;
    const flag = permissionFlag();
    argv = [
      ...privilegeDrop(input.owner),
      // No process-count limit here: without a user namespace it would count every process of
      // the worker's uid; the permission model forbids child processes instead.
      ...rlimits(input.limits, false),
      execPath,
      ...nodeArgs(input.limits),
      flag,
      // A directory grants itself and everything under it. Listing a path twice (`dir` and
      // `dir/*`) trips an assertion in Node 20's permission tree, so each appears once.
      `--allow-fs-read=${input.runtime.dir}`,
      `--allow-fs-read=${input.userDir}`,
      `--allow-fs-write=${input.userDir}`,
      input.runtime.file,
      input.settings(inside),
    ];
  }
  const [command, ...args] = argv;
  const egressEnv: Record<string, string> =
    input.level === 'process' && input.egressSocket ? { IPA_EGRESS_SOCKET: input.egressSocket } : {};
  return {
    command: command as string,
    args,
    env: { ...input.env, ...egressEnv, HOME: inside },
    insideUserDir: inside,
  };
}

const headroomSteps = [0, 256, 512, 1024, 2048];
const headroomCache = new Map<number, Promise<number>>();

/**
 * The smallest extra data-segment allowance under which this Node binary starts with a
 * `memoryMb` limit. Node 20 starts within it; newer releases reserve more address space at start
 * (and would fail to start at all), so the worker finds out once instead of guessing per version.
 * The V8 heap limit still follows memoryMb.
 */
export function dataHeadroomMb(memoryMb: number): Promise<number> {
  let found = headroomCache.get(memoryMb);
  if (!found) {
    found = probeHeadroom(memoryMb);
    headroomCache.set(memoryMb, found);
  }
  return found;
}

async function probeHeadroom(memoryMb: number): Promise<number> {
  const prlimit = findExecutable('prlimit');
  if (!prlimit) return 0;
  for (const headroom of headroomSteps) {
    const bytes = (memoryMb + headroom) * 1024 * 1024;
    // Under a too-small limit Node may hang instead of failing: bounded.
    const started = await runTool(
      [prlimit, `--data=${bytes}`, '--', process.execPath, ...heapFlags(memoryMb), '-e', '0'],
      { env: {}, timeoutMs: 5000 },
    ).then(
      (code) => code === 0,
      () => false,
    );
    if (started) return headroom;
  }
  throw new Error(
    `Node does not start with a ${memoryMb} MB data limit even with 2 GB to spare: raise SANDBOX_MEMORY_MB`,
  );
}
