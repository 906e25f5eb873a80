import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { notFound } from '../../errors.js';
import { currentUser } from '../../plugins/auth.js';
import {
  errors,
  executionSchema,
  idParams,
  messageSchema,
  pageOf,
  pageQuery,
  sessionSchema,
} from '../../schemas/common.js';

const title = z.string().trim().min(1).max(200);
/** One user message; long enough for pasted documents, short enough to bound a model call. */
const maxMessageChars = 100_000;

export const sessionRoutes: FastifyPluginAsyncZod = async (app) => {
  const { store } = app.services;

  app.get(
    '/sessions',
    {
      schema: {
        tags: ['sessions'],
        summary: 'Your sessions, newest first; `q` searches titles and message text',
        querystring: z.strictObject({
          q: z
            .string()
            .trim()
            .min(1)
            .max(200)
            .optional()
            .describe('Only sessions whose title or a message contains this text (case-insensitive).'),
          ...pageQuery,
        }),
        response: { 200: pageOf(sessionSchema), ...errors(400, 401) },
      },
    },
    async (request) => store.sessions.list(currentUser(request).user.id, request.query),
  );

  app.post(
    '/sessions',
    {
      schema: {
        tags: ['sessions'],
        summary: 'Start a session',
        body: z.strictObject({ title: title.optional() }).nullish(),
        response: { 201: sessionSchema, ...errors(400, 401) },
      },
    },
    async (request, reply) => {
      const session = await store.sessions.create(
        currentUser(request).user.id,
        request.body?.title ?? defaultSessionTitle,
      );
      return reply.code(201).send(session);
    },
  );

  app.get(
    '/sessions/:id',
    {
      schema: {
        tags: ['sessions'],
        summary: 'One session',
        params: idParams,
        response: { 200: sessionSchema, ...errors(400, 401, 404) },
      },
    },
    async (request) => {
      const session = await store.sessions.get(currentUser(request).user.id, request.params.id);
      if (!session) throw notFound('The session');
      return session;
    },
  );

  app.patch(
    '/sessions/:id',
    {
      schema: {
        tags: ['sessions'],
        summary: 'Rename a session',
        params: idParams,
        body: z.strictObject({ title }),
        response: { 200: sessionSchema, ...errors(400, 401, 404) },
      },
    },
    async (request) => {
      const session = await store.sessions.rename(
        currentUser(request).user.id,
        request.params.id,
        request.body.title,
      );
      if (!session) throw notFound('The session');
      return session;
    },
  );

  app.delete(
    '/sessions/:id',
    {
      schema: {
        tags: ['sessions'],
        summary: 'Delete a session and its messages',
        params: idParams,
        response: { 204: z.null(), ...errors(400, 401, 404) },
      },
    },
    async (request, reply) => {
      const deleted = await store.sessions.delete(currentUser(request).user.id, request.params.id);
      if (!deleted) throw notFound('The session');
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/sessions/:id/messages',
    {
      schema: {
        tags: ['sessions'],
        summary: 'Messages of a session, oldest first',
        params: idParams,
        querystring: z.strictObject(pageQuery),
        response: { 200: pageOf(messageSchema), ...errors(400, 401, 404) },
      },
    },
    async (request) => {
      const session = await store.sessions.get(currentUser(request).user.id, request.params.id);
      if (!session) throw notFound('The session');
      return store.messages.list(session.id, request.query);
    },
  );

  app.post(
    '/sessions/:id/messages',
    {
      schema: {
        tags: ['sessions'],
        summary: 'Send a message: stores it and starts an agent turn (202)',
        params: idParams,
        body: z.strictObject({ text: z.string().trim().min(1).max(maxMessageChars) }),
        response: {
          202: z.object({ message: messageSchema, execution: executionSchema }),
          ...errors(400, 401, 404, 429, 503),
        },
      },
    },
    async (request, reply) => {
      const { user } = currentUser(request);
      const session = await store.sessions.get(user.id, request.params.id);
      if (!session) throw notFound('The session');
      const { text } = request.body;
      // The message and its execution are one transaction: a crash or a refusal leaves neither.
      const result = await app.submitExecution(user.id, async (tx, admit) => {
        const message = await tx.messages.append({
          sessionId: session.id,
          role: 'user',
          parts: [{ type: 'text', text }],
        });
        const execution = await admit({
          userId: user.id,
          sessionId: session.id,
          kind: 'agent',
          input: { messageId: message.id, text },
        });
        return { execution, extra: message };
      });
      // An untitled session is named after its first message, as a person would name it.
      if (!session.title.trim() || session.title === defaultSessionTitle)
        await store.sessions.rename(user.id, session.id, titleFrom(text));
      return reply.code(202).send({ message: result.extra, execution: result.execution });
    },
  );
};

/** The title of a session created without one, until its first message names it. */
const defaultSessionTitle = 'New session';

/** A session title from a message: its first line, whitespace collapsed, at most 60 characters. */
export function titleFrom(text: string): string {
  const line = text.trim().split('\n')[0]?.replace(/\s+/g, ' ').trim() ?? '';
  return line.length > 60 ? `${line.slice(0, 59).trimEnd()}…` : line;
}
