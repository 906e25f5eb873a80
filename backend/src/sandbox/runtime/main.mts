/**
 * Entry of the sandbox process: a JSON-RPC 2.0 server on stdin/stdout, one object per line.
 * Started by the worker as `node main.mjs '<RuntimeSettings JSON>'`, with cwd in the user's
 * `workspace/` and nothing else of the host visible (bwrap) or readable (permission model).
 */
import type { RpcFailure, RpcRequest, RuntimeSettings, SandboxErrorCode } from '../protocol.js';
import type { SandboxEvent } from '../types.js';
import { OutputBudget, runChild, runJavaScript } from './code.mjs';
import { FileTools } from './files.mjs';
import { changesBetween, RuntimeFailure } from './paths.mjs';
import { SyncTools } from './sync.mjs';

const settings = JSON.parse(process.argv[2] ?? '{}') as RuntimeSettings;
const files = new FileTools(settings);
const sync = new SyncTools(files.rootReal, settings.maxFileBytes);
const running = new Map<number, AbortController>();
let activeRun: OutputBudget | undefined;

const codes = { parseError: -32700, invalidRequest: -32600, methodNotFound: -32601, application: -32000 };

function send(message: object): void {
  process.stdout.write(`${JSON.stringify(message)}\n`);
}

function fail(id: number | null, code: number, kind: SandboxErrorCode, message: string): void {
  const failure: RpcFailure = { jsonrpc: '2.0', id, error: { code, message, data: { kind } } };
  send(failure);
}

function event(id: number, payload: SandboxEvent): void {
  send({ jsonrpc: '2.0', method: 'event', params: { id, event: payload } });
}

async function dispatch(request: RpcRequest, signal: AbortSignal): Promise<unknown> {
  const params = (request.params ?? {}) as never;
  const changed = (path: string, change: 'created' | 'modified' | 'deleted') =>
    event(request.id, { kind: 'file.changed', path, change });
  switch (request.method) {
    case 'ping':
      // getrusage, not /proc (absent under bwrap): the peak resident size so far.
      return { pong: true, pid: process.pid, rssBytes: process.resourceUsage().maxRSS * 1024 };
    case 'fs.list':
      return files.list(params);
    case 'fs.read':
      return files.read(params);
    case 'fs.write':
      return files.write(params, changed);
    case 'fs.edit':
      return files.edit(params, changed);
    case 'fs.delete':
      return files.delete(params, changed);
    case 'sync.scan':
      return sync.scan(params, (batch) => event(request.id, { kind: 'sync.files', files: batch }));
    case 'sync.hash':
      return sync.hash(params);
    case 'sync.read':
      return sync.read(params);
    case 'sync.write':
      return sync.write(params);
    case 'sync.delete':
      return sync.delete(params);
    case 'code.run':
      return runCode(request as RpcRequest<'code.run'>, signal);
    case 'workspace.enter':
      process.chdir(`${files.rootReal}/workspace`);
      return { entered: true };
    case 'shutdown':
      setImmediate(() => process.exit(0));
      return { bye: true };
    default:
      throw Object.assign(
        new RuntimeFailure('invalid_request', `unknown method ${JSON.stringify(request.method)}`),
        {
          rpcCode: codes.methodNotFound,
        },
      );
  }
}

async function runCode(request: RpcRequest<'code.run'>, signal: AbortSignal) {
  const p = request.params;
  if (!p || typeof p.code !== 'string') throw new RuntimeFailure('invalid_request', 'code must be a string');
  if (typeof p.timeoutMs !== 'number' || !(p.timeoutMs > 0))
    throw new RuntimeFailure('invalid_request', 'timeoutMs must be a positive number');
  if (!settings.languages.includes(p.language)) {
    throw new RuntimeFailure(
      'unsupported_language',
      `language ${JSON.stringify(p.language)} is not available in this sandbox (available: ${settings.languages.join(', ')})`,
    );
  }
  const budget = new OutputBudget(settings.maxOutputBytes, (stream, data, truncated) =>
    event(request.id, { kind: 'output', stream, data, ...(truncated ? { truncated } : {}) }),
  );
  activeRun = budget;
  // One walk before and one after: the quota check and the files the run changed.
  const before = files.scan();
  try {
    const result =
      p.language === 'javascript' || p.language === 'typescript'
        ? await runJavaScript(p, settings, budget, signal)
        : await runChild(p, budget, signal, process.cwd());
    const after = files.scan();
    for (const { path, change } of changesBetween(before, after))
      event(request.id, { kind: 'file.changed', path, change });
    const used = after.bytes;
    const usedBefore = before.bytes;
    // Only a run that grew the user's files past the quota fails: a user already over it (files
    // synced from elsewhere) can still run code, e.g. to clean up.
    if (used > settings.quotaBytes && used > usedBefore) {
      throw new RuntimeFailure(
        'quota_exceeded',
        `the run left ${used} bytes in the user's files, over the quota of ${settings.quotaBytes}; delete files to continue`,
      );
    }
    return result;
  } finally {
    if (activeRun === budget) activeRun = undefined;
    endLeftoverProcesses();
  }
}

/**
 * Processes a run started (a `spawn` from JavaScript, a job a shell put in the background under
 * its own session) must not outlive it: they would hold the sandbox's process budget and run
 * on unseen. In its own pid namespace kill(-1) reaches exactly them — every process there but
 * the namespace's init and this one. Never outside one: there it would reach every process of
 * the uid; at `process` level the permission model forbids child processes instead.
 */
function endLeftoverProcesses(): void {
  if (!settings.ownPidNamespace) return;
  try {
    process.kill(-1, 'SIGKILL');
  } catch {
    // ESRCH: nothing left
  }
}

async function handle(line: string): Promise<void> {
  let request: RpcRequest;
  try {
    request = JSON.parse(line);
  } catch {
    fail(null, codes.parseError, 'protocol', 'the line is not valid JSON');
    return;
  }
  if (
    !request ||
    typeof request !== 'object' ||
    (request as { jsonrpc?: unknown }).jsonrpc !== '2.0' ||
    typeof request.method !== 'string'
  ) {
    fail(null, codes.invalidRequest, 'protocol', 'not a JSON-RPC 2.0 message');
    return;
  }
  if ((request.method as string) === 'cancel') {
    running.get((request.params as { id?: number } | undefined)?.id ?? -1)?.abort();
    return;
  }
  if (typeof request.id !== 'number') {
    fail(null, codes.invalidRequest, 'protocol', 'a request needs a numeric id');
    return;
  }
  const controller = new AbortController();
  running.set(request.id, controller);
  try {
    const result = await dispatch(request, controller.signal);
    send({ jsonrpc: '2.0', id: request.id, result });
  } catch (error) {
    if (error instanceof RuntimeFailure) {
      fail(
        request.id,
        (error as { rpcCode?: number }).rpcCode ?? codes.application,
        error.kind,
        error.message,
      );
    } else {
      const e = error as NodeJS.ErrnoException;
      const kind: SandboxErrorCode =
        e.code === 'ENOENT'
          ? 'not_found'
          : e.code === 'ERR_ACCESS_DENIED' || e.code === 'EACCES' || e.code === 'EPERM'
            ? 'invalid_path'
            : 'internal';
      fail(
        request.id,
        codes.application,
        kind,
        `${request.method} failed: ${e.code ? `${e.code} ` : ''}${e.message}`,
      );
    }
  } finally {
    running.delete(request.id);
  }
}

// An error thrown from a script's callback after its run returned belongs to the script, not to
// this server: it is reported on the current run's stderr and the process carries on.
process.on('uncaughtException', (error) => activeRun?.write('stderr', `${error.stack ?? error}\n`));
process.on('unhandledRejection', (reason) =>
  activeRun?.write('stderr', `Unhandled rejection: ${String((reason as Error)?.stack ?? reason)}\n`),
);

let buffered = '';
let discarding = false;
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk: string) => {
  let start = 0;
  for (let nl = chunk.indexOf('\n'); nl !== -1; nl = chunk.indexOf('\n', start)) {
    const piece = chunk.slice(start, nl);
    start = nl + 1;
    if (discarding) {
      discarding = false;
      continue;
    }
    const line = buffered + piece;
    buffered = '';
    if (line.trim() !== '') void handle(line);
  }
  if (discarding) return;
  buffered += chunk.slice(start);
  if (buffered.length > settings.maxLineBytes) {
    buffered = '';
    discarding = true;
    fail(
      null,
      codes.invalidRequest,
      'protocol',
      `a line longer than ${settings.maxLineBytes} bytes was dropped`,
    );
  }
});
process.stdin.on('end', () => process.exit(0));
process.chdir(`${files.rootReal}/workspace`);
