/**
 * `code.run` inside the sandbox. JavaScript (and TypeScript, stripped by the worker) runs in a
 * fresh `node:vm` context per run inside this long-lived process, which keeps a warm call well
 * under a millisecond. vm is NOT the security boundary — this whole process is: a script that
 * escapes its context reaches only what the sandbox process itself can reach.
 * Shell and Python run as child processes and exist only where bwrap contains them.
 */
import {
  type ChildProcessWithoutNullStreams,
  type SpawnOptionsWithStdioTuple,
  spawn,
} from 'node:child_process';
import { createRequire, isBuiltin } from 'node:module';
import { formatWithOptions } from 'node:util';
import vm from 'node:vm';
import type { CodeRunReply, RpcMethods, RuntimeSettings } from '../protocol.js';
import type { CodeRunResult, ScriptErrorInfo } from '../types.js';
import { childScriptError } from './child-errors.mjs';
import { egressEnvironment, egressFetch } from './egress.mjs';
import { asScript, beginRun, endRun } from './leftovers.mjs';
import { RuntimeFailure } from './paths.mjs';

type RunParams = RpcMethods['code.run']['params'];
/** `truncated` marks the one event that says the rest of the output was dropped. */
export type Emit = (stream: 'stdout' | 'stderr', data: string, truncated?: true) => void;

/** Counts output against the per-run cap; what is over it is dropped and reported. */
export class OutputBudget {
  used = 0;
  truncated = false;
  constructor(
    private readonly max: number,
    private readonly emit: Emit,
  ) {}

  write(stream: 'stdout' | 'stderr', data: string): void {
    if (this.truncated) return;
    const bytes = Buffer.byteLength(data);
    if (this.used + bytes <= this.max) {
      this.used += bytes;
      this.emit(stream, data);
      return;
    }
    const room = this.max - this.used;
    if (room > 0) this.emit(stream, Buffer.from(data).subarray(0, room).toString());
    this.used = this.max;
    this.truncated = true;
    this.emit('stderr', `\n[output truncated: over ${this.max} bytes]\n`, true);
  }
}

const hostRequire = createRequire(import.meta.url);

/**
 * Creating a V8 context costs about half a millisecond, most of a warm call's budget. The next
 * run's context is therefore made ahead of time, right after a run ends, off the critical path.
 * Each context still serves exactly one run.
 */
let spareContext: vm.Context | undefined;

/**
 * No code from strings in a script's context: `eval`, `new Function`, `Function` reached through
 * any prototype (`(() => {}).constructor`, async and generator functions) throw `EvalError`, and
 * WebAssembly cannot be compiled (`wasm: false`). Host-realm objects a script holds (`Buffer`,
 * modules) lead to the runtime's own realm, where `--disallow-code-generation-from-strings` does
 * the same.
 */
const contextOptions = { name: 'script', codeGeneration: { strings: false, wasm: false } } as const;

function freshContext(globals: Record<string, unknown>): vm.Context {
  const context = spareContext ?? vm.createContext({}, contextOptions);
  spareContext = undefined;
  Object.assign(context, globals);
  return context;
}

export function prepareNextContext(): void {
  setImmediate(() => {
    spareContext ??= vm.createContext({}, contextOptions);
  });
}

/**
 * Built-in modules that compile strings into code (a new vm context allows it by default, a REPL
 * or an inspector session evaluates text, a worker thread with `eval: true` runs a string) are
 * refused: they would undo the context's code-generation setting.
 */
const codeFromStrings = new Set(['vm', 'repl', 'inspector', 'inspector/promises', 'worker_threads']);

/** Only Node's built-in modules can be required: nothing of the platform is on the module path. */
function scriptRequire(name: string): unknown {
  if (typeof name !== 'string' || !isBuiltin(name))
    throw new Error(`cannot require ${JSON.stringify(name)}: only Node built-in modules are available`);
  if (codeFromStrings.has(name.replace(/^node:/, '')))
    throw new Error(`cannot require ${JSON.stringify(name)}: it runs code from strings, which is disabled`);
  return hostRequire(name);
}

const scriptFrame = /\(?script\.js:(\d+):(\d+)\)?/;

/**
 * A thrown value as the user should see it: the message and only the frames of the user's own
 * code (`script.js:line:column`) — never the runtime's frames, which name host files. A syntax
 * error's position comes from V8's header (`script.js:<line>`, the source line, a caret).
 */
export function describeThrown(
  thrown: unknown,
  userLines = Number.POSITIVE_INFINITY,
): { text: string; error: ScriptErrorInfo } {
  if (!(thrown instanceof Error) && !(thrown && typeof thrown === 'object' && 'stack' in thrown)) {
    const message = `Uncaught ${formatWithOptions({ colors: false }, thrown)}`;
    return { text: message, error: { message } };
  }
  const error = thrown as Error;
  let name = 'Error';
  let message = '';
  let stack = '';
  try {
    name = String(error.name ?? 'Error');
    message = String(error.message ?? '');
    stack = typeof error.stack === 'string' ? error.stack : '';
  } catch {
    // a getter that throws: keep what we have
  }
  // ArrayBuffers (Buffers, typed arrays) live outside the V8 heap and meet the data limit first.
  const hint = name === 'RangeError' && /allocation failed/i.test(message) ? ' (memory limit reached)' : '';
  const headline = `${message ? `${name}: ${message}` : name}${hint}`;
  const header = /^script\.js:(\d+)\n([^\n]*)\n([^\n]*)\n/.exec(stack);
  // Names, not instanceof: the script's errors come from its own realm.
  if (header && name === 'SyntaxError') {
    const caret = (header[3] as string).indexOf('^');
    const line = Number(header[1]);
    const column = caret >= 0 ? caret + 1 : undefined;
    const text = `${headline}\n    at script.js:${line}${column ? `:${column}` : ''}\n${header[2]}\n${header[3]}`;
    return { text, error: { message: headline, line, ...(column ? { column } : {}) } };
  }
  // The wrapper's own call (`})()`, one line past the user's code) is not the user's frame.
  const frames = stack.split('\n').filter((l) => {
    const at = /^\s+at /.test(l) ? scriptFrame.exec(l) : null;
    return at !== null && Number(at[1]) <= userLines;
  });
  const first = frames.length > 0 ? scriptFrame.exec(frames[0] as string) : null;
  const info: ScriptErrorInfo = { message: headline };
  if (first) {
    info.line = Number(first[1]);
    info.column = Number(first[2]);
  }
  return { text: [headline, ...frames].join('\n'), error: info };
}

function jsonResult(value: unknown, max: number): { value?: unknown; error?: string } {
  if (value === undefined) return {};
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (error) {
    return { error: `the result is not JSON-serialisable: ${(error as Error).message}` };
  }
  if (text === undefined) return {};
  if (text.length > max)
    return { error: `the result has ${text.length} characters of JSON, over the ${max}-byte limit` };
  return { value: JSON.parse(text) };
}

export async function runJavaScript(
  params: RunParams,
  settings: RuntimeSettings,
  budget: OutputBudget,
  signal: AbortSignal,
): Promise<CodeRunReply> {
  const started = performance.now();
  const timers = new Set<NodeJS.Timeout>();
  const immediates = new Set<NodeJS.Immediate>();
  let scriptError: ScriptErrorInfo | undefined;
  const print =
    (stream: 'stdout' | 'stderr') =>
    (...args: unknown[]) => {
      // Once over the cap nothing more is kept, so nothing more is formatted either.
      if (!budget.truncated)
        budget.write(stream, `${formatWithOptions({ colors: false, depth: 6 }, ...args)}\n`);
    };
  const log = print('stdout');
  const error = print('stderr');
  const console = { log, info: log, debug: log, dir: log, table: log, error, warn: error, trace: error };
  const track =
    <A extends unknown[]>(fn: (cb: (...a: unknown[]) => void, ms?: number, ...rest: A) => NodeJS.Timeout) =>
    (cb: (...a: unknown[]) => void, ms?: number, ...rest: A) => {
      const handle = fn(cb, ms, ...rest);
      timers.add(handle);
      return handle;
    };
  const globals = {
    console,
    input: params.input === undefined ? undefined : structuredClone(params.input),
    require: scriptRequire,
    process: { env: {}, argv: [], platform: process.platform, cwd: () => process.cwd() },
    Buffer,
    setTimeout: track(setTimeout as never),
    setInterval: track(setInterval as never),
    clearTimeout,
    clearInterval,
    setImmediate: (cb: (...a: unknown[]) => void, ...rest: unknown[]) => {
      const handle = setImmediate(cb, ...rest);
      immediates.add(handle);
      return handle;
    },
    clearImmediate,
    queueMicrotask,
    structuredClone,
    TextEncoder,
    TextDecoder,
    URL,
    URLSearchParams,
    AbortController,
    atob,
    btoa,
    performance,
    crypto: globalThis.crypto,
    fetch: egressFetch,
    Request,
    Response,
    Headers,
  };
  const context = freshContext(globals);
  const source = params.wrapped ? params.code : `(async () => {\n${params.code}\n})()`;
  let timedOut = false;
  let exitCode: number | null = 0;
  let result: unknown;
  let deadline: NodeJS.Timeout | undefined;
  try {
    beginRun();
    const script = new vm.Script(source, { filename: 'script.js', lineOffset: params.wrapped ? 0 : -1 });
    // No vm `timeout`: it starts and joins a watchdog thread on every run (a quarter of a warm
    // call). A script stuck in a synchronous loop blocks this process, and the worker kills and
    // replaces it just past the limit — as it replaces the process after any timed-out run.
    const completion = asScript(() => script.runInContext(context, { breakOnSigint: false }));
    const outcome = await Promise.race([
      Promise.resolve(completion).then((value: unknown) => ({ value })),
      new Promise<{ timeout: true }>((resolve) => {
        deadline = setTimeout(
          () => resolve({ timeout: true }),
          Math.max(0, params.timeoutMs - (performance.now() - started)),
        );
      }),
      new Promise<never>((_, reject) => {
        if (signal.aborted) reject(new RuntimeFailure('cancelled', 'the run was cancelled'));
        signal.addEventListener(
          'abort',
          () => reject(new RuntimeFailure('cancelled', 'the run was cancelled')),
          { once: true },
        );
      }),
    ]);
    if ('timeout' in outcome) {
      timedOut = true;
      exitCode = null;
    } else {
      const json = jsonResult(outcome.value, settings.maxOutputBytes);
      if (json.error) {
        budget.write('stderr', `${json.error}\n`);
        exitCode = 1;
      } else result = json.value;
    }
  } catch (thrown) {
    if (thrown instanceof RuntimeFailure) throw thrown;
    const described = describeThrown(thrown, params.wrapped ? undefined : params.code.split('\n').length);
    budget.write('stderr', `${described.text}\n`);
    scriptError = described.error;
    exitCode = 1;
  } finally {
    if (deadline) clearTimeout(deadline);
    // Timers made through the script's globals end with the run; anything else it left alive
    // (reported below) makes the worker replace this process.
    for (const handle of timers) clearTimeout(handle);
    for (const handle of immediates) clearImmediate(handle);
  }
  const leftovers = timedOut ? [] : await endRun();
  prepareNextContext();
  return {
    exitCode,
    ...(result === undefined ? {} : { result }),
    ...(scriptError ? { error: scriptError } : {}),
    ...(leftovers.length > 0 ? { leftovers } : {}),
    durationMs: Math.round((performance.now() - started) * 1000) / 1000,
    timedOut,
    outputTruncated: budget.truncated,
  };
}

const stderrTailKept = 8192;

export async function runChild(
  params: RunParams,
  budget: OutputBudget,
  signal: AbortSignal,
  cwd: string,
): Promise<CodeRunResult> {
  const started = performance.now();
  const [command, args] =
    params.language === 'shell' ? ['/bin/sh', ['-c', params.code]] : ['python3', ['-c', params.code]];
  const child = await startChild(command as string, args as string[], {
    cwd,
    detached: true,
    stdio: ['pipe', 'pipe', 'pipe'],
    env: {
      PATH: '/usr/local/bin:/usr/bin:/bin',
      HOME: process.env.HOME ?? cwd,
      LANG: process.env.LANG ?? 'C.UTF-8',
      ...(await egressEnvironment()),
    },
  });
  // The whole process group goes, so background jobs of the script do not outlive the run.
  const killGroup = () => {
    try {
      if (child.pid) process.kill(-child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  };
  let timedOut = false;
  let cancelled = false;
  const timer = setTimeout(() => {
    timedOut = true;
    killGroup();
  }, params.timeoutMs);
  const onAbort = () => {
    cancelled = true;
    killGroup();
  };
  signal.addEventListener('abort', onAbort, { once: true });
  child.stdout.setEncoding('utf8').on('data', (d: string) => budget.write('stdout', d));
  // Where the script failed is read from the end of its stderr (`child-errors.mts`).
  let stderrTail = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    budget.write('stderr', d);
    stderrTail = (stderrTail + d).slice(-stderrTailKept);
  });
  child.stdin.on('error', () => {});
  child.stdin.end(params.input === undefined ? '' : JSON.stringify(params.input));
  const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>(
    (resolve, reject) => {
      child.once('error', (error) =>
        reject(new RuntimeFailure('internal', `could not start ${command}: ${error.message}`)),
      );
      child.once('close', (code, sig) => resolve({ code, signal: sig }));
    },
  ).finally(() => {
    clearTimeout(timer);
    signal.removeEventListener('abort', onAbort);
    killGroup();
  });
  if (cancelled) throw new RuntimeFailure('cancelled', 'the run was cancelled');
  const exitCode = timedOut ? null : (exit.code ?? 128 + signalNumber(exit.signal));
  const error =
    exitCode !== null && exitCode !== 0
      ? childScriptError(params.language === 'shell' ? 'shell' : 'python', stderrTail, params.code)
      : undefined;
  return {
    exitCode,
    ...(error ? { error } : {}),
    durationMs: Math.round((performance.now() - started) * 1000) / 1000,
    timedOut,
    outputTruncated: budget.truncated,
  };
}

/**
 * Spawns, retrying briefly on EAGAIN: processes the previous run left were just killed, and
 * until they are reaped they still count against the sandbox's process limit.
 */
async function startChild(
  command: string,
  args: string[],
  options: SpawnOptionsWithStdioTuple<'pipe', 'pipe', 'pipe'>,
): Promise<ChildProcessWithoutNullStreams> {
  for (let attempt = 0; ; attempt++) {
    const child = spawn(command, args, options);
    const failure = await new Promise<NodeJS.ErrnoException | undefined>((resolve) => {
      child.once('spawn', () => resolve(undefined));
      child.once('error', resolve);
    });
    if (!failure) return child;
    if (failure.code !== 'EAGAIN' || attempt >= 25) {
      throw new RuntimeFailure('internal', `could not start ${command}: ${failure.message}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function signalNumber(signal: NodeJS.Signals | null): number {
  const numbers: Partial<Record<NodeJS.Signals, number>> = {
    SIGKILL: 9,
    SIGTERM: 15,
    SIGSEGV: 11,
    SIGXFSZ: 25,
    SIGABRT: 6,
    SIGINT: 2,
  };
  return (signal && numbers[signal]) || 0;
}
