/**
 * Load clients for the reliability scenarios. Every request is recorded: a 5xx, a connection
 * error or a timeout is a failure. Event streams are followed like the web app does: reconnect
 * with Last-Event-ID when a draining instance ends the stream, and check that each event arrives
 * exactly once and in order.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { percentile } from '../../bench/lib.js';

export interface Failure {
  what: string;
  detail: string;
  at: number;
}

export class Recorder {
  requests = 0;
  readonly failures: Failure[] = [];
  readonly latencies: number[] = [];
  readonly statuses = new Map<number, number>();

  fail(what: string, detail: string): void {
    this.failures.push({ what, detail: detail.slice(0, 300), at: Date.now() });
  }

  summary() {
    return {
      requests: this.requests,
      failures: this.failures.length,
      p50Ms: round(percentile(this.latencies, 50)),
      p99Ms: round(percentile(this.latencies, 99)),
      statuses: Object.fromEntries(this.statuses),
    };
  }
}

const round = (n: number) => Math.round(n * 10) / 10;

export class ApiClient {
  constructor(
    readonly base: string,
    readonly token: string,
    readonly recorder: Recorder,
    private readonly timeoutMs = 15_000,
  ) {}

  /** One request; returns undefined (and records a failure) on 5xx, network errors and timeouts. */
  async call(
    method: string,
    path: string,
    body?: unknown,
    options: { raw?: Buffer; expect?: number[] } = {},
  ): Promise<{ status: number; json: unknown; bytes: Buffer } | undefined> {
    const started = performance.now();
    this.recorder.requests++;
    try {
      const response = await fetch(`${this.base}/api/v1${path}`, {
        method,
        headers: {
          authorization: `Bearer ${this.token}`,
          ...(options.raw ? { 'content-type': 'application/octet-stream' } : {}),
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        body: options.raw ?? (body === undefined ? undefined : JSON.stringify(body)),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      const bytes = Buffer.from(await response.arrayBuffer());
      this.recorder.latencies.push(performance.now() - started);
      this.recorder.statuses.set(response.status, (this.recorder.statuses.get(response.status) ?? 0) + 1);
      const json = (response.headers.get('content-type') ?? '').includes('json')
        ? JSON.parse(bytes.toString() || 'null')
        : null;
      // A 5xx is a failure unless the caller expects it (a JSON 503 while a dependency fails over).
      const expected = options.expect?.includes(response.status);
      if ((response.status >= 500 && !expected) || (options.expect && !expected)) {
        this.recorder.fail(
          `${method} ${path.replace(/[0-9a-f-]{36}/g, ':id')}`,
          `${response.status} ${bytes.toString().slice(0, 200)}`,
        );
        return undefined;
      }
      return { status: response.status, json, bytes };
    } catch (error) {
      this.recorder.fail(
        `${method} ${path.replace(/[0-9a-f-]{36}/g, ':id')}`,
        String((error as Error).cause ?? error),
      );
      return undefined;
    }
  }
}

export interface StreamedEvent {
  id: string;
  type: string;
  data: Record<string, unknown>;
}

export interface FollowResult {
  events: StreamedEvent[];
  reconnects: number;
  terminal?: StreamedEvent;
  problems: string[];
}

export const terminalTypes = new Set(['execution.completed', 'execution.failed', 'execution.cancelled']);

function compareIds(a: string, b: string): number {
  const [am = 0, as = 0] = a.split('-').map(Number);
  const [bm = 0, bs = 0] = b.split('-').map(Number);
  return am - bm || as - bs;
}

/**
 * Follows an execution's SSE stream to its terminal event, reconnecting with Last-Event-ID when
 * the stream ends early (a draining instance) or the connection drops.
 */
export async function followEvents(
  client: ApiClient,
  executionId: string,
  timeoutMs: number,
): Promise<FollowResult> {
  const result: FollowResult = { events: [], reconnects: -1, problems: [] };
  const seen = new Set<string>();
  let lastId: string | undefined;
  const deadline = Date.now() + timeoutMs;
  while (!result.terminal && Date.now() < deadline) {
    result.reconnects++;
    try {
      const response = await fetch(`${client.base}/api/v1/executions/${executionId}/events`, {
        headers: { authorization: `Bearer ${client.token}`, ...(lastId ? { 'last-event-id': lastId } : {}) },
        signal: AbortSignal.timeout(Math.max(1000, deadline - Date.now())),
      });
      client.recorder.requests++;
      if (response.status !== 200) {
        client.recorder.fail('GET events', `${response.status} ${await response.text()}`);
        if (response.status >= 500) await new Promise((r) => setTimeout(r, 200));
        else return result;
        continue;
      }
      const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let boundary = buffer.indexOf('\n\n');
        while (boundary >= 0) {
          const block = buffer.slice(0, boundary);
          buffer = buffer.slice(boundary + 2);
          boundary = buffer.indexOf('\n\n');
          let id: string | undefined;
          let type = 'message';
          const data: string[] = [];
          for (const line of block.split('\n')) {
            if (line.startsWith('id:')) id = line.slice(3).trim();
            else if (line.startsWith('event:')) type = line.slice(6).trim();
            else if (line.startsWith('data:')) data.push(line.slice(5).trimStart());
          }
          if (data.length === 0) continue;
          // The API may end a stream whose events have expired with the terminal event rebuilt
          // from the execution's row: it has no id, and only a terminal event may lack one.
          if (!id && !terminalTypes.has(type)) {
            result.problems.push(`event ${type} without an id`);
            continue;
          }
          if (id) {
            if (seen.has(id)) result.problems.push(`duplicate event ${id}`);
            if (lastId && compareIds(id, lastId) <= 0)
              result.problems.push(`out of order: ${id} after ${lastId}`);
            seen.add(id);
            lastId = id;
          }
          const event = { id: id ?? '', type, data: JSON.parse(data.join('\n')) as Record<string, unknown> };
          result.events.push(event);
          if (terminalTypes.has(type)) result.terminal = event;
        }
        if (result.terminal) {
          await reader.cancel().catch(() => undefined);
          break;
        }
      }
    } catch (error) {
      // a dropped connection: reconnect with Last-Event-ID (counted, not a failure by itself)
      if (Date.now() >= deadline) result.problems.push(`stream error at deadline: ${String(error)}`);
    }
  }
  if (!result.terminal) result.problems.push(`no terminal event within ${timeoutMs} ms`);
  return result;
}

/** The output lines of the attempt that counted (events after the last `execution.superseded`). */
export function finalAttemptOutput(events: StreamedEvent[]): string {
  const lastSuperseded = events.map((e) => e.type).lastIndexOf('execution.superseded');
  return events
    .slice(lastSuperseded + 1)
    .filter((e) => e.type === 'output' && e.data.stream === 'stdout')
    .map((e) => String(e.data.data))
    .join('');
}

export async function createUser(
  base: string,
  adminToken: string,
  recorder: Recorder,
  name: string,
): Promise<ApiClient> {
  const admin = new ApiClient(base, adminToken, recorder);
  const created = await admin.call('POST', '/admin/users', { name }, { expect: [201] });
  if (!created) throw new Error(`could not create user ${name}: ${JSON.stringify(recorder.failures.at(-1))}`);
  return new ApiClient(base, (created.json as { token: string }).token, recorder);
}

/** A script run that prints numbered lines and writes a report; its output is checkable. */
export function scriptWorkload(lines = 5, gapMs = 0) {
  const marker = randomUUID();
  const pause = gapMs > 0 ? ` await new Promise((r) => setTimeout(r, ${gapMs}));` : '';
  const code = `for (let i = 0; i < ${lines}; i++) {${pause} console.log('line', i, input.marker); }
require('node:fs').writeFileSync('../outputs/' + input.marker + '.txt', input.marker);
return { marker: input.marker };`;
  const expected = Array.from({ length: lines }, (_, i) => `line ${i} ${marker}\n`).join('');
  return { body: { language: 'javascript', code, input: { marker } }, marker, expected };
}

export function randomFile(size: number): { bytes: Buffer; sha256: string } {
  const bytes = randomBytes(size);
  return { bytes, sha256: createHash('sha256').update(bytes).digest('hex') };
}

export const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');
