/**
 * A user's lease on their sandbox: every call of one execution goes through it, and every text
 * it hands out (output, script errors, SandboxError messages) passes the host-path redaction.
 * Created by the pool only; its slot and pool stay private.
 */
import { languageRequirement } from './languages.js';
import type { RpcMethod, RpcMethods, SyncLimits } from './protocol.js';
import type { Redact } from './redact.js';
import type { LeaseHost, Slot } from './slot.js';
import {
  type CallOptions,
  type CodeRunResult,
  type IsolationLevel,
  SandboxError,
  type SandboxEvent,
  type SandboxLease,
  type SyncScanResult,
} from './types.js';
import { stripTypes, type ToSource } from './typescript.js';

// How long past a run's limit the worker waits for the runtime's own timeout answer before it
// kills the process (a synchronous loop never lets the runtime answer).
const runGraceMs = 500;

export class Lease implements SandboxLease {
  readonly userId: string;
  readonly isolation: IsolationLevel;
  private released = false;
  /** Every text this lease hands out passes here: no host path reaches the user. */
  private readonly redact: Redact;

  constructor(
    private readonly pool: LeaseHost,
    private readonly slot: Slot,
  ) {
    this.userId = slot.userId;
    this.isolation = pool.isolation;
    this.redact = pool.redactorFor(slot);
  }

  private async rpc<M extends RpcMethod>(
    method: M,
    params: RpcMethods[M]['params'],
    options: CallOptions = {},
    watchQuota = false,
  ): Promise<RpcMethods[M]['result']> {
    if (this.released) throw new SandboxError('invalid_request', 'this sandbox lease was already released');
    const onEvent = options.onEvent;
    try {
      return await this.pool.call(
        this.slot,
        method,
        params,
        {
          ...options,
          onEvent: onEvent && ((event) => onEvent(this.redactEvent(event))),
        },
        { hardTimeoutMs: options.timeoutMs ?? this.pool.callTimeoutMs, watchQuota },
      );
    } catch (error) {
      if (error instanceof SandboxError) {
        const redacted = new SandboxError(error.code, this.redact(error.message));
        redacted.stack = `${redacted.name}: ${redacted.message}`;
        throw redacted;
      }
      throw error;
    }
  }

  private redactEvent(event: SandboxEvent): SandboxEvent {
    if (event.kind === 'output') return { ...event, data: this.redact(event.data) };
    if (event.kind === 'progress') return { ...event, message: this.redact(event.message) };
    return event;
  }

  list(path: string, options?: CallOptions) {
    return this.rpc('fs.list', { path }, options);
  }

  read(path: string, options?: CallOptions) {
    return this.rpc('fs.read', { path }, options);
  }

  write(path: string, content: string, options: CallOptions & { encoding?: 'utf8' | 'base64' } = {}) {
    return this.rpc('fs.write', { path, content, encoding: options.encoding ?? 'utf8' }, options);
  }

  edit(path: string, oldText: string, newText: string, options?: CallOptions & { replaceAll?: boolean }) {
    return this.rpc('fs.edit', { path, oldText, newText, replaceAll: options?.replaceAll }, options);
  }

  async delete(path: string, options?: CallOptions): Promise<void> {
    await this.rpc('fs.delete', { path }, options);
  }

  async syncScan(limits: SyncLimits, options: CallOptions = {}): Promise<SyncScanResult> {
    const files: SyncScanResult['files'] = [];
    const onEvent = (event: SandboxEvent) => {
      if (event.kind === 'sync.files' && Array.isArray(event.files)) files.push(...event.files);
    };
    const { exceeded } = await this.rpc('sync.scan', { limits }, { ...options, onEvent });
    return { files, exceeded };
  }

  async syncHash(paths: string[], options?: CallOptions) {
    return (await this.rpc('sync.hash', { paths }, options)).files;
  }

  syncRead(path: string, options?: CallOptions) {
    return this.rpc('sync.read', { path }, options);
  }

  async syncWrite(path: string, content: Buffer, options?: CallOptions): Promise<string> {
    return (await this.rpc('sync.write', { path, content: content.toString('base64') }, options)).stamp;
  }

  async syncDelete(paths: string[], options?: CallOptions): Promise<number> {
    return (await this.rpc('sync.delete', { paths }, options)).removed;
  }

  discardFiles(): Promise<void> {
    if (this.released)
      return Promise.reject(new SandboxError('invalid_request', 'this sandbox lease was already released'));
    return this.pool.discard(this.slot);
  }

  async run(input: Parameters<SandboxLease['run']>[0], options: CallOptions = {}): Promise<CodeRunResult> {
    if (!this.pool.languages.includes(input.language)) {
      throw new SandboxError(
        'unsupported_language',
        `${input.language} is not offered by this worker (${languageRequirement(input.language)}; its sandboxes run at '${this.pool.isolation}' level and offer ${this.pool.languages.join(', ')})`,
      );
    }
    if (typeof input.code !== 'string') throw new SandboxError('invalid_request', 'code must be a string');
    if (!Number.isFinite(input.timeoutMs) || input.timeoutMs <= 0)
      throw new SandboxError('invalid_request', 'timeoutMs must be a positive number');
    let code = input.code;
    let wrapped = false;
    let toSource: ToSource | undefined;
    if (input.language === 'typescript') {
      // Types are stripped here, in the worker, so the runtime needs no compiler: it stays a few
      // dependency-free files that can be mounted read-only, and cannot spawn esbuild's binary.
      const stripped = await stripTypes(code);
      if ('error' in stripped) {
        const error = { ...stripped.error, message: this.redact(stripped.error.message) };
        const where = error.line ? ` (script.ts:${error.line}${error.column ? `:${error.column}` : ''})` : '';
        options.onEvent?.({ kind: 'output', stream: 'stderr', data: `${error.message}${where}\n` });
        return { exitCode: 1, durationMs: 0, timedOut: false, outputTruncated: false, error };
      }
      code = stripped.code;
      toSource = stripped.toSource;
      wrapped = true;
    }
    const started = performance.now();
    let truncated = false;
    const detachEgress = this.pool.attachEgress(this.slot, input.egress);
    const onEvent = (event: SandboxEvent) => {
      if (event.kind === 'output' && event.truncated) truncated = true;
      // A TypeScript run's frames point into the stripped code: shown at the user's own lines.
      if (toSource && event.kind === 'output' && event.stream === 'stderr') {
        const map = toSource;
        event = {
          ...event,
          data: event.data.replace(/script\.js:(\d+):(\d+)/g, (_, l: string, c: string) => {
            const at = map(Number(l), Number(c));
            return `script.ts:${at.line}:${at.column}`;
          }),
        };
      }
      options.onEvent?.(event);
    };
    try {
      const { leftovers, ...result } = await this.rpc(
        'code.run',
        { language: input.language, code, input: input.input, timeoutMs: input.timeoutMs, wrapped },
        { ...options, onEvent, timeoutMs: input.timeoutMs + runGraceMs },
        true,
      );
      // A timed-out script may have left work behind (pending callbacks, children), and a run
      // that ended with timers, handles or listeners still alive did: the process is replaced
      // (the replacement starts now, off the caller's path), so none of it outlives the run.
      if (result.timedOut) this.pool.recycle(this.slot, 'the sandbox was replaced after a timed-out run');
      else if (leftovers && leftovers.length > 0)
        this.pool.recycle(
          this.slot,
          `the sandbox was replaced: the run left ${leftovers.slice(0, 5).join(', ')} running`,
        );
      if (result.error) {
        const at =
          toSource && result.error.line !== undefined
            ? toSource(result.error.line, result.error.column ?? 1)
            : undefined;
        result.error = {
          ...result.error,
          ...(at ? { line: at.line, column: at.column } : {}),
          message: this.redact(result.error.message),
        };
      }
      return result;
    } catch (error) {
      // A cancelled run may have left work behind too.
      if (error instanceof SandboxError && error.code === 'cancelled')
        this.pool.recycle(this.slot, 'the sandbox was replaced after a cancelled run');
      if (error instanceof SandboxError && error.code === 'timeout') {
        return {
          exitCode: null,
          durationMs: Math.round(performance.now() - started),
          timedOut: true,
          outputTruncated: truncated,
        };
      }
      throw error;
    } finally {
      detachEgress();
    }
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    this.pool.releaseSlot(this.slot);
  }
}
