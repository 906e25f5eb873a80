/**
 * Scenario 5 — hostile input against a running API: requests generated from the served OpenAPI
 * description (random and boundary values, wrong types, unknown fields, huge bodies, deep JSON,
 * invalid UTF-8, path tricks, header abuse), slow-loris clients and thousands of idle SSE
 * connections. Pass: no 5xx, no crash, memory back near its baseline after the connections close.
 */
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { Cluster, sleep } from '../cluster.js';
import { createUser, Recorder } from '../load.js';
import type { ScenarioContext, ScenarioResult } from './types.js';

interface Operation {
  method: string;
  path: string;
  hasBody: boolean;
  schema?: Record<string, unknown>;
}

function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

/** The V8 heap in use, from the API's own Prometheus metrics (prom-client's default ones). */
async function heapUsedMb(base: string): Promise<number> {
  const text = await fetch(`${base}/metrics`)
    .then((r) => r.text())
    .catch(() => '');
  const line = text.split('\n').find((l) => l.startsWith('nodejs_heap_size_used_bytes'));
  return Math.round(Number(line?.split(' ').at(-1) ?? Number.NaN) / 1024 / 1024);
}

const pick = <T>(items: readonly T[]): T => items[Math.floor(Math.random() * items.length)] as T;

const strangeStrings = [
  '',
  ' ',
  '../../etc/passwd',
  '..%2f..%2fetc%2fpasswd',
  '%00',
  'a'.repeat(10_000),
  '😀'.repeat(1000),
  '<script>alert(1)</script>',
  "' OR 1=1 --",
  '\u0000\u0001',
  '00000000-0000-0000-0000-000000000000',
  'not-a-uuid',
  '-1',
  '1e309',
  'uploads/../../x',
  '/etc/passwd',
  'uploads/%2e%2e/x',
];
const strangeValues: unknown[] = [
  null,
  true,
  -1,
  0,
  2 ** 53,
  Number.MAX_VALUE,
  [],
  {},
  [[[]]],
  'x',
  { $gt: '' },
  ...strangeStrings,
];

function valueFor(schema: Record<string, unknown> | undefined, depth = 0): unknown {
  if (!schema || depth > 4 || Math.random() < 0.2) return pick(strangeValues);
  switch (schema.type) {
    case 'string':
      return Math.random() < 0.5 && Array.isArray(schema.enum)
        ? pick(schema.enum as unknown[])
        : pick(strangeStrings);
    case 'integer':
    case 'number':
      return pick([0, -1, 1, 2 ** 31, -(2 ** 63), 1.5, Number.MAX_SAFE_INTEGER]);
    case 'boolean':
      return pick([true, false, 'true', 0]);
    case 'array':
      return Array.from({ length: pick([0, 1, 3, 1000]) }, () =>
        valueFor(schema.items as Record<string, unknown>, depth + 1),
      );
    default: {
      const properties = (schema.properties ?? {}) as Record<string, Record<string, unknown>>;
      const out: Record<string, unknown> = {};
      for (const [key, sub] of Object.entries(properties))
        if (Math.random() < 0.8) out[key] = valueFor(sub, depth + 1);
      if (Math.random() < 0.3)
        out[pick(['__proto__', 'constructor', 'extra', 'isAdmin'])] = pick(strangeValues);
      return out;
    }
  }
}

function deepJson(depth: number): string {
  return `${'['.repeat(depth)}${']'.repeat(depth)}`;
}

function operations(openapi: Record<string, unknown>): Operation[] {
  const out: Operation[] = [];
  for (const [path, item] of Object.entries(
    (openapi.paths ?? {}) as Record<string, Record<string, Record<string, unknown>>>,
  )) {
    for (const [method, op] of Object.entries(item)) {
      if (!['get', 'post', 'put', 'patch', 'delete'].includes(method)) continue;
      const content = ((op.requestBody as Record<string, unknown> | undefined)?.content ?? {}) as Record<
        string,
        { schema?: Record<string, unknown> }
      >;
      out.push({
        method: method.toUpperCase(),
        path,
        hasBody: !!op.requestBody,
        schema: content['application/json']?.schema,
      });
    }
  }
  return out;
}

/** Raw HTTP over a socket, for requests fetch refuses to send (bad bytes, broken framing). */
function rawRequest(port: number, payload: Buffer | string, timeoutMs = 5000): Promise<number> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let data = '';
    const done = (status: number) => {
      socket.destroy();
      resolve(status);
    };
    socket.setTimeout(timeoutMs, () => done(-1));
    socket.on('data', (chunk) => {
      data += chunk.toString('latin1');
      const match = /^HTTP\/1\.[01] (\d{3})/.exec(data);
      if (match) done(Number(match[1]));
    });
    socket.on('error', () => done(0));
    socket.on('close', () => done(0));
    socket.write(payload);
  });
}

export async function hostileInput({ short }: ScenarioContext): Promise<ScenarioResult> {
  const fuzzMs = short ? 45_000 : 300_000;
  const idleSse = short ? 2000 : 10_000;
  const cluster = new Cluster({ apis: 1, workers: 1, env: { RATE_LIMIT_PER_MINUTE: '1000000' } });
  const recorder = new Recorder();
  const problems: string[] = [];
  const statusCounts: Record<string, number> = {};
  await cluster.start();
  try {
    const api = cluster.apis[0]!;
    const base = `http://127.0.0.1:${api.port}`;
    const client = await createUser(base, cluster.adminToken, recorder, 'hostile');
    const openapi = (await (await fetch(`${base}/openapi.json`)).json()) as Record<string, unknown>;
    const ops = operations(openapi);
    if (ops.length < 10) problems.push(`OpenAPI lists only ${ops.length} operations`);
    await sleep(2000);
    const baselineMb = rssMb(api.process.pid!);
    const heapBaselineMb = await heapUsedMb(base);

    // 1. Generated requests, several in flight at once.
    const count = (status: number) => {
      const key = status >= 500 ? `${status}` : `${Math.floor(status / 100)}xx`;
      statusCounts[key] = (statusCounts[key] ?? 0) + 1;
    };
    const fuzzUntil = Date.now() + fuzzMs;
    let sent = 0;
    let unsent = 0;
    const fuzzer = async () => {
      while (Date.now() < fuzzUntil) {
        const op = pick(ops);
        const url = op.path
          .replace(/\{[^}]+\}/g, () => encodeURIComponent(String(pick(strangeStrings)) || 'x'))
          .replace(/\*/, pick(['uploads/a.txt', '../x', 'outputs/%2e%2e/y', 'a'.repeat(300)]));
        const variant = Math.floor(Math.random() * 8);
        const headers: Record<string, string> = {
          authorization:
            Math.random() < 0.85
              ? `Bearer ${client.token}`
              : pick(['Bearer ', 'Basic x', `Bearer ${'a'.repeat(5000)}`, 'Bearer ipa_forged']),
        };
        let body: string | Buffer | undefined;
        // fetch cannot send a body with GET/HEAD (the raw requests below cover such framing).
        if ((op.hasBody || variant === 7) && op.method !== 'GET') {
          headers['content-type'] = pick([
            'application/json',
            'application/json',
            'text/plain',
            'application/x-www-form-urlencoded',
            'multipart/form-data; boundary=x',
          ]);
          body = [
            () => JSON.stringify(valueFor(op.schema)),
            () => JSON.stringify(valueFor(op.schema)),
            () => '{"unterminated": ',
            () => deepJson(pick([100, 10_000, 100_000])),
            () => Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xc3, 0x28, 0xff, 0x22, 0x7d]),
            () => Buffer.alloc(pick([1024 * 1024, 30 * 1024 * 1024]), 0x61),
            () => JSON.stringify({ a: 'x'.repeat(2 * 1024 * 1024) }),
            () => '',
          ][variant]!();
        }
        if (Math.random() < 0.05) headers['last-event-id'] = pick(strangeStrings) || '9';
        try {
          const response = await fetch(`${base}${url}`, {
            method: op.method,
            headers,
            body,
            signal: AbortSignal.timeout(15_000),
          });
          await response.arrayBuffer();
          count(response.status);
          if (response.status >= 500) problems.push(`${op.method} ${url.slice(0, 120)} → ${response.status}`);
        } catch (error) {
          // fetch itself refused to build the request (a header value that is not a byte string,
          // say): nothing was sent, so there is no server behaviour to judge.
          if (error instanceof TypeError && error.cause === undefined && error.message !== 'fetch failed') {
            unsent++;
            continue;
          }
          const text = String((error as Error).cause ?? error);
          // The server may close a connection on a request it will not read (huge body): not a 5xx.
          if (!/ECONNRESET|EPIPE|other side closed|SocketError/.test(text))
            problems.push(`${op.method} ${url.slice(0, 80)}: ${text.slice(0, 150)}`);
          count(0);
        }
        sent++;
      }
    };

    // 2. Raw abuse: broken framing, invalid UTF-8 in the path, giant headers, many headers.
    const raw = async () => {
      const payloads: (string | Buffer)[] = [
        'GET /api/v1/sessions HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n',
        'POST /api/v1/executions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\nzzz\r\n',
        Buffer.concat([
          Buffer.from('GET /api/v1/files/uploads/'),
          Buffer.from([0xff, 0xfe, 0xc3]),
          Buffer.from(' HTTP/1.1\r\nHost: x\r\n\r\n'),
        ]),
        `GET /api/v1/me HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(100_000)}\r\n\r\n`,
        `GET /api/v1/me HTTP/1.1\r\nHost: x\r\n${Array.from({ length: 3000 }, (_, i) => `X-H${i}: v`).join('\r\n')}\r\n\r\n`,
        'GARBAGE\r\n\r\n',
        `GET /${'../'.repeat(2000)}etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n`,
      ];
      for (const payload of payloads) {
        const status = await rawRequest(api.port, payload);
        count(status);
        if (status >= 500) problems.push(`raw request → ${status}: ${String(payload).slice(0, 60)}`);
      }
    };

    // 3. Slow-loris: connections that send a header byte now and then.
    const slowSockets: Socket[] = [];
    const slowLoris = async () => {
      for (let i = 0; i < 200; i++) {
        const socket = connect(api.port, '127.0.0.1');
        socket.on('error', () => undefined);
        socket.write('GET /api/v1/me HTTP/1.1\r\nHost: x\r\n');
        slowSockets.push(socket);
      }
      const until = Date.now() + Math.min(fuzzMs, 30_000);
      while (Date.now() < until) {
        for (const s of slowSockets) if (!s.destroyed) s.write('X-a: b\r\n');
        await sleep(2000);
      }
    };

    await Promise.all([fuzzer(), fuzzer(), fuzzer(), fuzzer(), raw(), slowLoris()]);
    for (const s of slowSockets) s.destroy();

    // 4. Many idle SSE connections on a long-running execution.
    const long = await client.call(
      'POST',
      '/executions',
      { language: 'javascript', code: 'await new Promise((r) => setTimeout(r, 120000));' },
      { expect: [202] },
    );
    const executionId = (long?.json as { id: string } | undefined)?.id;
    let opened = 0;
    let peakMb = 0;
    let sseRefused = 0;
    const sockets: Socket[] = [];
    if (executionId) {
      const request = `GET /api/v1/executions/${executionId}/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${client.token}\r\nAccept: text/event-stream\r\n\r\n`;
      // Opened like many browsers arriving, not in one instant: at most 200 handshakes are
      // pending at a time. Each answered connection then stays open and idle.
      let pending = 0;
      let refused = 0;
      for (let i = 0; i < idleSse; i++) {
        while (pending >= 200) await sleep(5);
        pending++;
        const socket = connect(api.port, '127.0.0.1');
        socket.on('error', () => undefined);
        let answered = false;
        const answer = (ok: boolean) => {
          if (answered) return;
          answered = true;
          pending--;
          if (ok) opened++;
          else refused++;
        };
        socket.once('data', (chunk) => answer(chunk.toString('latin1').startsWith('HTTP/1.1 200')));
        socket.once('close', () => answer(false));
        socket.setTimeout(60_000, () => answer(false));
        socket.write(request);
        sockets.push(socket);
      }
      const openedBy = Date.now() + 60_000;
      while (pending > 0 && Date.now() < openedBy) await sleep(100);
      sseRefused = refused;
      await sleep(5000);
      peakMb = rssMb(api.process.pid!);
      if (opened < idleSse * 0.99)
        problems.push(`only ${opened} of ${idleSse} SSE connections were accepted`);
      for (const s of sockets) s.destroy();
      await client.call('POST', `/executions/${executionId}/cancel`);
    }
    // V8 and malloc give freed memory back lazily: "back to baseline" = RSS and V8 heap in use
    // both within 25 % (+10 MB) of the start, reached within 120 s of the connections closing.
    const closedAt = Date.now();
    const near = (now: number, start: number) => now <= start * 1.25 + 10;
    let afterMb = rssMb(api.process.pid!);
    let heapAfterMb = await heapUsedMb(base);
    while (
      !(near(afterMb, baselineMb) && near(heapAfterMb, heapBaselineMb)) &&
      Date.now() - closedAt < 120_000 &&
      api.process.exitCode === null
    ) {
      await sleep(2000);
      afterMb = rssMb(api.process.pid!);
      heapAfterMb = await heapUsedMb(base);
    }
    const settledS = Math.round((Date.now() - closedAt) / 1000);
    const alive = api.process.exitCode === null;
    if (!alive) problems.push('the API process died');
    if (!near(afterMb, baselineMb) || !near(heapAfterMb, heapBaselineMb))
      problems.push(
        `memory 120 s after the connections closed: RSS ${afterMb.toFixed(0)} MB vs baseline ${baselineMb.toFixed(0)} MB, heap used ${heapAfterMb} MB vs ${heapBaselineMb} MB`,
      );
    const ready = await fetch(`${base}/health/ready`)
      .then((r) => r.status)
      .catch(() => 0);
    if (ready !== 200) problems.push(`API not ready after the abuse (${ready})`);

    const fiveHundreds = Object.entries(statusCounts)
      .filter(([k]) => k.startsWith('5'))
      .reduce((n, [, v]) => n + v, 0);
    return {
      name: 'hostile input',
      passed: problems.length === 0 && fiveHundreds === 0,
      figures: {
        seconds: Math.round(fuzzMs / 1000),
        operations: ops.length,
        generatedRequests: sent,
        refusedByClient: unsent,
        ...Object.fromEntries(Object.entries(statusCounts).map(([k, v]) => [`status_${k}`, v])),
        idleSseConnections: opened,
        idleSseRefused: sseRefused,
        rssBaselineMb: Math.round(baselineMb),
        rssPeakMb: Math.round(peakMb),
        rssAfterCloseMb: Math.round(afterMb),
        rssSettledAfterS: settledS,
        heapUsedBaselineMb: heapBaselineMb,
        heapUsedAfterCloseMb: heapAfterMb,
      },
      problems: problems.slice(0, 20),
    };
  } finally {
    await cluster.stop();
  }
}
