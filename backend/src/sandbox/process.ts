/**
 * One sandbox process and the worker's end of its JSON-RPC channel. Anything unexpected on the
 * channel (a line that is not JSON-RPC, a line over the size cap, an answer to no request) marks
 * the process broken: it is killed and every pending call fails with a clear error.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { constants } from 'node:os';
import type { RpcFailure, RpcMethod, RpcMethods } from './protocol.js';
import { SandboxError, type SandboxEvent } from './types.js';

export interface SandboxProcessOptions {
  command: string;
  args: string[];
  env: Record<string, string>;
  maxLineBytes: number;
  /** Output events kept per call on the worker side, whatever the runtime claims (defence in depth). */
  maxOutputBytes: number;
  /** The sandbox's data limit (RLIMIT_DATA): a crash close to it is reported as out of memory. */
  memoryLimitBytes?: number;
}

/** The signal behind a shell-style exit status 128 + N, if it names one. */
function signalOfExitCode(code: number | null): NodeJS.Signals | null {
  if (code === null || code <= 128 || code >= 128 + 64) return null;
  const entry = Object.entries(constants.signals).find(([, number]) => number === code - 128);
  return entry ? (entry[0] as NodeJS.Signals) : null;
}

/** How often the worker reads a busy sandbox's memory (VmData) from /proc. */
// Often enough to see a runaway allocation past half the limit before the process dies of it:
// reading two small /proc files costs microseconds.
const memorySampleMs = 20;

/** VmData of `pid` and of its descendants (a bwrap sandbox's Node runs below bwrap), largest. */
function dataBytes(pid: number, depth = 0): number {
  let largest = 0;
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = /^VmData:\s+(\d+) kB/m.exec(status);
    if (kb) largest = Number(kb[1]) * 1024;
    if (depth < 4) {
      for (const child of readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').split(' '))
        if (child.trim()) largest = Math.max(largest, dataBytes(Number(child), depth + 1));
    }
  } catch {
    // gone, or no /proc: no reading
  }
  return largest;
}

interface Pending {
  method: RpcMethod;
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
  onEvent?: (event: SandboxEvent) => void;
  outputBytes: number;
}

const stderrKept = 8192;
/**
 * How V8 and the C++ runtime say an allocation failed under the data limit: the heap limit
 * ("JavaScript heap out of memory", "Reached heap limit"), a failed page or zone allocation
 * ("Fatal process out of memory: …") and `new` in native code (std::bad_alloc).
 */
const outOfMemory =
  /heap out of memory|Allocation failed|Fatal process out of memory|std::bad_alloc|Out of memory/i;

export class SandboxProcess {
  readonly child: ChildProcess;
  readonly startedAt = performance.now();
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private buffered = '';
  private stderrTail = '';
  private failure: SandboxError | undefined;
  private memoryTimer: NodeJS.Timeout | undefined;
  /** The last memory reading while a call ran. */
  private lastDataBytes = 0;
  readonly exited: Promise<void>;
  exitedAt: number | undefined;

  constructor(private readonly options: SandboxProcessOptions) {
    this.child = spawn(options.command, options.args, {
      env: options.env,
      stdio: ['pipe', 'pipe', 'pipe'],
      // The worker's cwd is irrelevant: the sandbox chdirs into the user's workspace itself.
      cwd: '/',
    });
    this.exited = new Promise((resolve) => {
      this.child.once('close', (code, signal) => {
        this.exitedAt = performance.now();
        this.fail(new SandboxError('crashed', this.describeExit(code, signal)));
        resolve();
      });
    });
    this.child.once('error', (error) =>
      this.fail(new SandboxError('crashed', `sandbox process failed to start: ${error.message}`)),
    );
    this.child.stdin?.on('error', () => {});
    this.child.stdout?.setEncoding('utf8').on('data', (chunk: string) => this.onStdout(chunk));
    this.child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      this.stderrTail = (this.stderrTail + chunk).slice(-stderrKept);
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get alive(): boolean {
    return this.failure === undefined;
  }

  get pendingCalls(): number {
    return this.pending.size;
  }

  /** Sends one request; `onEvent` receives the notifications the sandbox streams for it. */
  call<M extends RpcMethod>(
    method: M,
    params: RpcMethods[M]['params'],
    onEvent?: (event: SandboxEvent) => void,
  ): { id: number; result: Promise<RpcMethods[M]['result']> } {
    const id = this.nextId++;
    const result = new Promise<RpcMethods[M]['result']>((resolve, reject) => {
      if (this.failure) {
        reject(this.failure);
        return;
      }
      const line = `${JSON.stringify({ jsonrpc: '2.0', id, method, params })}\n`;
      if (line.length > this.options.maxLineBytes) {
        reject(
          new SandboxError(
            'too_large',
            `the ${method} request is ${line.length} bytes, over the ${this.options.maxLineBytes}-byte protocol line limit`,
          ),
        );
        return;
      }
      this.pending.set(id, {
        method,
        resolve: resolve as (v: unknown) => void,
        reject,
        onEvent,
        outputBytes: 0,
      });
      this.child.stdin?.write(line);
      this.watchMemory();
    });
    return { id, result };
  }

  /**
   * While calls run, the worker notes the sandbox's memory: a process that dies by a signal with
   * its data segment near the limit ran out of memory, even when it had no time to say so (a
   * failed allocation inside V8 can end in a bare SIGSEGV).
   */
  private watchMemory(): void {
    if (this.memoryTimer || !this.options.memoryLimitBytes || this.pid === undefined) return;
    const pid = this.pid;
    this.memoryTimer = setInterval(() => {
      if (this.pending.size === 0 || this.failure) {
        clearInterval(this.memoryTimer);
        this.memoryTimer = undefined;
        return;
      }
      // A dying process has no VmData any more: the reading before it counts.
      const reading = dataBytes(pid);
      if (reading > 0) this.lastDataBytes = reading;
    }, memorySampleMs);
    this.memoryTimer.unref();
  }

  /** A health check: a process that does not answer within `timeoutMs` is killed. */
  async ping(timeoutMs: number): Promise<void> {
    const timer = setTimeout(
      () => this.kill(new SandboxError('crashed', `the sandbox missed a ping (${timeoutMs} ms)`)),
      timeoutMs,
    );
    await this.call('ping', {})
      .result.catch(() => {})
      .finally(() => clearTimeout(timer));
  }

  cancel(id: number): void {
    if (!this.failure && this.pending.has(id))
      this.child.stdin?.write(`${JSON.stringify({ jsonrpc: '2.0', method: 'cancel', params: { id } })}\n`);
  }

  /** Kills the whole sandbox (bwrap takes its namespace down with it) and fails pending calls. */
  kill(error: SandboxError = new SandboxError('crashed', 'the sandbox process was stopped')): void {
    this.fail(error);
    if (this.exitedAt === undefined) this.child.kill('SIGKILL');
  }

  /** Asks the runtime to exit, killing it when it does not within `graceMs`. */
  async stop(graceMs = 1000): Promise<void> {
    if (this.exitedAt !== undefined) return;
    if (!this.failure) {
      this.call('shutdown', {}).result.catch(() => {});
      this.child.stdin?.end();
    }
    const timer = setTimeout(() => this.kill(), graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  private describeExit(code: number | null, signal: NodeJS.Signals | null): string {
    if (this.memoryTimer) clearInterval(this.memoryTimer);
    const tail = this.stderrTail.trim();
    // bwrap (the namespace's init) reports a child killed by signal N as exit status 128 + N.
    const died = signal ?? signalOfExitCode(code);
    const crashSignal = died !== null && ['SIGSEGV', 'SIGBUS', 'SIGABRT', 'SIGTRAP', 'SIGILL'].includes(died);
    const limit = this.options.memoryLimitBytes;
    const how = signal ? `killed by ${signal}` : `ended with code ${code}`;
    if (outOfMemory.test(tail) || (crashSignal && limit !== undefined && this.lastDataBytes >= limit * 0.5))
      return `the sandbox process ran out of memory (memory limit reached) and was ${how}`;
    // Node itself does not crash on JavaScript; under a data limit a bare crash signal is almost
    // always an allocation that failed inside V8 faster than the worker's readings could see.
    if (crashSignal && limit !== undefined)
      return `the sandbox process was ${how} by ${died}, most likely at the memory limit (memory limit reached)`;
    const hint = signal === 'SIGXFSZ' ? ' (file size limit reached)' : '';
    const ended = signal ? `killed by ${signal}` : `exited with code ${code}`;
    const last = tail ? `: ${tail.split('\n').slice(-3).join(' | ').slice(0, 500)}` : '';
    return `the sandbox process ${ended}${hint}${last}`;
  }

  private fail(error: SandboxError): void {
    if (this.failure) return;
    this.failure = error;
    for (const pending of this.pending.values()) pending.reject(error);
    this.pending.clear();
  }

  private breakProtocol(reason: string): void {
    this.kill(new SandboxError('protocol', `the sandbox broke the protocol (${reason}) and was stopped`));
  }

  private onStdout(chunk: string): void {
    if (this.failure) return;
    let start = 0;
    for (let nl = chunk.indexOf('\n'); nl !== -1; nl = chunk.indexOf('\n', start)) {
      const line = this.buffered + chunk.slice(start, nl);
      this.buffered = '';
      start = nl + 1;
      if (line.length > this.options.maxLineBytes) {
        this.breakProtocol(`a line of ${line.length} bytes`);
        return;
      }
      if (line.trim() !== '') this.onLine(line);
      if (this.failure) return;
    }
    this.buffered += chunk.slice(start);
    if (this.buffered.length > this.options.maxLineBytes)
      this.breakProtocol(`a line over ${this.options.maxLineBytes} bytes`);
  }

  private onLine(line: string): void {
    let message: {
      jsonrpc?: unknown;
      id?: unknown;
      method?: unknown;
      params?: { id?: unknown; event?: SandboxEvent };
      result?: unknown;
      error?: RpcFailure['error'];
    };
    try {
      message = JSON.parse(line);
    } catch {
      this.breakProtocol(`not JSON: ${JSON.stringify(line.slice(0, 80))}`);
      return;
    }
    if (!message || typeof message !== 'object' || message.jsonrpc !== '2.0') {
      this.breakProtocol('not a JSON-RPC 2.0 message');
      return;
    }
    if (message.method === 'event') {
      const pending =
        typeof message.params?.id === 'number' ? this.pending.get(message.params.id) : undefined;
      const event = message.params?.event;
      if (!pending || !event || typeof event !== 'object') return;
      if (event.kind === 'output') {
        pending.outputBytes += typeof event.data === 'string' ? event.data.length : 0;
        // The runtime caps output itself; this only guards against a runtime that does not.
        if (pending.outputBytes > this.options.maxOutputBytes * 2 + 4096) return;
      }
      pending.onEvent?.(event);
      return;
    }
    if (message.id === null && message.error) {
      // The runtime rejects a line it could not parse without an id; our lines are always valid.
      this.breakProtocol(`the sandbox refused a message: ${message.error.message}`);
      return;
    }
    const pending = typeof message.id === 'number' ? this.pending.get(message.id) : undefined;
    if (!pending) {
      this.breakProtocol(`an answer to no pending request (${JSON.stringify(message.id)})`);
      return;
    }
    this.pending.delete(message.id as number);
    if (message.error) {
      const kind = message.error.data?.kind ?? 'internal';
      pending.reject(new SandboxError(kind, String(message.error.message)));
    } else pending.resolve(message.result);
  }
}
