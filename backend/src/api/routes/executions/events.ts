import { PassThrough } from 'node:stream';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { InvalidEventIdError } from '../../../events/index.js';
import { terminalEventOf } from '../../../events/terminal.js';
import { type ExecutionEvent, terminalEventTypes } from '../../../events/types.js';
import { type Execution, terminalStatuses } from '../../../store/types.js';
import { notFound } from '../../errors.js';
import { currentUser } from '../../plugins/auth.js';
import { viaRedis } from '../../redis.js';
import { errors, idParams } from '../../schemas/common.js';

export interface EventStreamOptions {
  /** A comment line is sent after this much silence, so proxies keep the connection open. */
  keepAliveMs?: number;
}

/** Events read per round trip to the event log. */
const batchSize = 200;
/** How long to wait for a terminal event that the finished execution's row promises. */
const terminalGraceMs = 1000;
/** Reconnect hint after a failed read of the event log (the client resumes where it was). */
const errorRetryMs = 2000;

const streamIdPattern = /^(\d{1,16})-\d+$/;

/** One SSE message; an event without an id is one rebuilt from the execution's row. */
function formatEvent(event: Omit<ExecutionEvent, 'id'> & { id?: string }): string {
  // JSON.stringify escapes newlines, so the payload is always one `data:` line.
  const id = event.id === undefined ? '' : `id: ${event.id}\n`;
  return `${id}event: ${event.type}\ndata: ${JSON.stringify(event.data)}\n\n`;
}

/** The terminal event from the execution's row, for a stream that has expired or lost it (no id). */
const terminalFromRow = (execution: Execution): string => formatEvent(terminalEventOf(execution));

const isTerminal = (execution: Execution) => terminalStatuses.includes(execution.status);

/**
 * `GET /executions/:id/events`: the execution's event stream as Server-Sent Events. Everything
 * that can be refused (unknown execution, malformed `Last-Event-ID`) is refused with a JSON error
 * before the first byte of the stream; once streaming, a failure ends the stream with a `retry:`
 * hint and the client resumes from its last id.
 */
export const eventRoutes: FastifyPluginAsyncZod<EventStreamOptions> = async (app, options) => {
  const { store, events, metrics, logger } = app.services;
  const keepAliveMs = options.keepAliveMs ?? 15_000;

  app.get(
    '/executions/:id/events',
    {
      schema: {
        tags: ['executions'],
        summary:
          'Follow an execution as Server-Sent Events (text/event-stream), resumable with Last-Event-ID',
        description:
          'Each event has `id`, `event` (its type) and one JSON `data` line. A `: keep-alive` comment ' +
          'follows every 15 s of silence. The stream closes after the terminal event ' +
          '(`execution.completed`, `execution.failed` or `execution.cancelled`). Reconnect with the ' +
          '`Last-Event-ID` header (or `?after=`) to get exactly the events after that id. 204 when the ' +
          'execution has finished and nothing follows the given id.',
        params: idParams,
        querystring: z.strictObject({
          after: z.string().min(1).max(100).optional().describe('Resume after this event id.'),
        }),
        headers: z.looseObject({
          'last-event-id': z
            .string()
            .max(100)
            .optional()
            .describe('Resume after this event id (wins over ?after).'),
        }),
        response: {
          200: z.unknown().describe('text/event-stream'),
          204: z.null().describe('The execution has finished and nothing follows the given id.'),
          ...errors(400, 401, 404),
        },
      },
    },
    async (request, reply) => {
      const { user } = currentUser(request);
      const executionId = request.params.id;
      const header = request.headers['last-event-id'];
      const resumeFrom = header ? header : request.query.after;

      const found = await store.executions.get(executionId, user.id);
      if (!found) throw notFound('The execution');
      let execution: Execution = found;

      // The first read also validates the resume id: InvalidEventIdError becomes a JSON 400 here.
      // A malformed id stays a 400; an unreachable event log is a 503.
      const readNow = (blockMs = 0) =>
        viaRedis(
          app.services,
          'event log',
          () => events.read(executionId, resumeFrom, { count: batchSize, blockMs }),
          (err) => err instanceof InvalidEventIdError,
        );
      let backlog = await readNow();
      let synthesizedEnd: string | undefined;
      if (backlog.length === 0 && isTerminal(execution)) {
        // The row is written before the terminal event is appended; give that event a moment.
        backlog = await readNow(terminalGraceMs);
        if (backlog.length === 0) {
          if (resumeFrom !== undefined) return reply.code(204).send(null);
          // The stream has expired (retention); the row still knows how it ended.
          synthesizedEnd = terminalFromRow(execution);
        }
      }

      const out = new PassThrough();
      let closed = false;
      let lastId = resumeFrom;
      let lastWriteAt = Date.now();
      const write = (text: string) => {
        if (closed) return;
        out.write(text);
        lastWriteAt = Date.now();
      };
      const finish = (tail?: string) => {
        if (closed) return;
        if (tail) out.write(tail);
        closed = true;
        untrack();
        out.end();
      };
      const untrack = app.lifecycle.trackStream((retryMs) => finish(`retry: ${retryMs}\n\n`));
      reply.raw.on('close', () => {
        if (closed) return;
        closed = true;
        untrack();
        out.destroy();
      });

      /** Writes a batch; true when it held the terminal event. */
      const deliver = (batch: ExecutionEvent[], live: boolean): boolean => {
        const now = Date.now();
        for (const event of batch) {
          write(formatEvent(event));
          lastId = event.id;
          const appendedAt = live ? streamIdPattern.exec(event.id)?.[1] : undefined;
          if (appendedAt !== undefined) {
            metrics.eventStreamLag.observe(Math.max(0, now - Number(appendedAt)) / 1000);
          }
          if (terminalEventTypes.includes(event.type)) return true;
        }
        return false;
      };

      void reply
        .code(200)
        .header('content-type', 'text/event-stream; charset=utf-8')
        .header('cache-control', 'no-cache, no-transform')
        // nginx (ingress or the frontend container) must pass events through unbuffered.
        .header('x-accel-buffering', 'no')
        .send(out);

      // A first line flushes the headers, so the client knows at once that the stream is open.
      write(': stream open\n\n');
      if (synthesizedEnd !== undefined) {
        finish(synthesizedEnd);
        return reply;
      }
      if (deliver(backlog, false)) {
        finish();
        return reply;
      }

      /** Waits while a slow client's buffer is full, instead of buffering without bound. */
      const drained = () =>
        new Promise<void>((resolve) => {
          if (closed || !out.writableNeedDrain) return resolve();
          const done = () => {
            out.off('drain', done);
            out.off('close', done);
            resolve();
          };
          out.on('drain', done);
          out.on('close', done);
        });

      const follow = async () => {
        let caughtUp = backlog.length < batchSize;
        // The row says finished but no terminal event has come (its worker may have died between
        // the two writes): the row's outcome ends the stream once the event is clearly overdue, or
        // after one more quiet keep-alive period when clocks disagree, so no client waits forever.
        let terminalRowSeen = false;
        while (!closed) {
          const waitMs = Math.max(1, keepAliveMs - (Date.now() - lastWriteAt));
          let batch: ExecutionEvent[];
          try {
            batch = await events.read(executionId, lastId, { blockMs: waitMs, count: batchSize });
          } catch (err) {
            logger.warn({ err, executionId }, 'event stream read failed; asking the client to reconnect');
            finish(`retry: ${errorRetryMs}\n\n`);
            return;
          }
          if (closed) return;
          if (deliver(batch, caughtUp)) {
            finish();
            return;
          }
          await drained();
          caughtUp = batch.length < batchSize;
          if (batch.length === 0 && Date.now() - lastWriteAt >= keepAliveMs) {
            write(': keep-alive\n\n');
            execution =
              (await store.executions.get(executionId, user.id).catch(() => execution)) ?? execution;
            if (isTerminal(execution)) {
              const finishedAgoMs = Date.now() - Date.parse(execution.finishedAt ?? '');
              if (terminalRowSeen || finishedAgoMs > terminalGraceMs) {
                finish(terminalFromRow(execution));
                return;
              }
              terminalRowSeen = true;
            }
          }
        }
      };
      follow().catch((err: unknown) => {
        logger.error({ err, executionId }, 'event stream failed');
        finish(`retry: ${errorRetryMs}\n\n`);
      });
      return reply;
    },
  );
};
