/**
 * Process lifecycle of the pool: builds a sandbox process's command, starts it on a directory
 * under a uid of its own (root worker), waits for its first ping, and takes the uid and the
 * egress socket back once the process — with bwrap its whole namespace — has exited.
 */
import { randomUUID } from 'node:crypto';
import type { SandboxEgress } from '../egress/proxy.js';
import { type IsolationReport, sandboxCommand } from './isolation.js';
import { SandboxProcess } from './process.js';
import type { RuntimeSettings } from './protocol.js';
import type { RuntimeEntry } from './runtime-entry.js';
import { SandboxError, type ScriptLanguage } from './types.js';
import { UidPool } from './uids.js';
import { prepareDirectory, type SandboxOwner } from './workspace.js';

const startTimeoutMs = 15_000;
const openFiles = 256;
const tmpCapBytes = 64 * 1024 * 1024;

export interface LauncherSettings {
  root: string;
  report: IsolationReport;
  runtime: RuntimeEntry;
  dataHeadroomMb: number;
  languages: readonly ScriptLanguage[];
  env: Record<string, string>;
  maxLineBytes: number;
  walkLimits: { maxFiles: number; maxDepth: number };
  memoryMb: number;
  maxOutputBytes: number;
  maxFileBytes: number;
  maxProcs: number;
  userQuotaBytes: number;
  egress?: SandboxEgress;
  /** Set for a root worker: the uids its sandboxes get, one each. */
  uidRange?: { first: number; last: number };
}

/** A started sandbox process and what was taken for it. */
export interface Launched {
  proc: SandboxProcess;
  /** Key of the process's egress socket (undefined without an egress proxy). */
  egressKey?: string;
  /** Its uid/gid (root worker). */
  owner?: SandboxOwner;
}

export class ProcessLauncher {
  private readonly uids: UidPool | undefined;
  starts = 0;

  constructor(private readonly settings: LauncherSettings) {
    this.uids =
      process.getuid?.() === 0
        ? new UidPool(settings.uidRange ?? { first: 100_000, last: 165_535 })
        : undefined;
  }

  /** Sandboxes get uids of their own (the worker is root). */
  get separateUids(): boolean {
    return this.uids !== undefined;
  }

  /**
   * A uid no other live sandbox has: `preferred` (the one that already owns the directory) when
   * free, else `key`'s home slot in the range or the next free one. Undefined for a non-root worker.
   */
  takeOwner(key: string, preferred?: number): SandboxOwner | undefined {
    if (!this.uids) return undefined;
    const uid = this.uids.take(key, preferred);
    return { uid, gid: uid };
  }

  releaseOwner(owner: SandboxOwner | undefined): void {
    if (owner) this.uids?.release(owner.uid);
  }

  /**
   * Starts a sandbox on `dir` (created, and handed to `owner`, first) and waits for its first
   * ping. The owner's uid is released when the process has exited, also when the start failed;
   * `onExit` runs after that.
   */
  async launch(
    dir: string,
    owner: SandboxOwner | undefined,
    onExit: (proc: SandboxProcess) => void,
  ): Promise<Launched> {
    let proc: SandboxProcess | undefined;
    try {
      await prepareDirectory(this.settings.root, dir, owner);
      const egressKey = this.settings.egress ? randomUUID() : undefined;
      const egressSocket = egressKey ? await this.settings.egress?.open(egressKey) : undefined;
      proc = this.spawn(dir, owner, egressSocket);
      const started = proc;
      this.starts++;
      void started.exited.then(() => {
        this.releaseOwner(owner);
        if (egressKey) this.settings.egress?.close(egressKey);
        onExit(started);
      });
      await this.firstPing(started);
      return { proc: started, egressKey, owner };
    } catch (error) {
      // Without a process the uid is free at once; with one, when it has exited.
      if (!proc) this.releaseOwner(owner);
      throw error;
    }
  }

  private spawn(
    dir: string,
    owner: SandboxOwner | undefined,
    egressSocket: string | undefined,
  ): SandboxProcess {
    const s = this.settings;
    const settings = (root: string): string =>
      JSON.stringify({
        root,
        maxFileBytes: s.maxFileBytes,
        maxOutputBytes: s.maxOutputBytes,
        quotaBytes: s.userQuotaBytes,
        maxLineBytes: s.maxLineBytes,
        languages: [...s.languages],
        ownPidNamespace: s.report.level === 'bwrap',
        walkLimits: s.walkLimits,
      } satisfies RuntimeSettings);
    const command = sandboxCommand({
      egressSocket,
      level: s.report.level,
      bwrapPath: s.report.bwrapPath,
      tmpBytes: s.report.bwrapTmpSize ? Math.min(s.userQuotaBytes, tmpCapBytes) : undefined,
      runtime: s.runtime,
      userDir: dir,
      owner,
      limits: {
        memoryMb: s.memoryMb,
        dataHeadroomMb: s.dataHeadroomMb,
        maxFileBytes: s.maxFileBytes,
        maxProcs: s.maxProcs,
        openFiles,
      },
      env: s.env,
      settings,
    });
    return new SandboxProcess({
      command: command.command,
      args: command.args,
      env: command.env,
      maxLineBytes: s.maxLineBytes,
      maxOutputBytes: s.maxOutputBytes,
      memoryLimitBytes: (s.memoryMb + s.dataHeadroomMb) * 1024 * 1024,
    });
  }

  private async firstPing(proc: SandboxProcess): Promise<void> {
    const timer = setTimeout(
      () =>
        proc.kill(
          new SandboxError(
            'crashed',
            `the sandbox did not answer its first ping within ${startTimeoutMs} ms`,
          ),
        ),
      startTimeoutMs,
    );
    try {
      await proc.call('ping', {}).result;
    } catch (error) {
      proc.kill();
      throw error instanceof SandboxError
        ? new SandboxError('crashed', `the sandbox process could not start: ${error.message}`)
        : error;
    } finally {
      clearTimeout(timer);
    }
  }
}
