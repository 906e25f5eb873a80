import fastifyMultipart from '@fastify/multipart';
import type { FastifyPluginAsyncZod, ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { InvalidPathError, normalizeFilePath } from '../../../store/paths.js';
import { ApiError, notFound } from '../../errors.js';
import { currentUser } from '../../plugins/auth.js';
import { errors, storedFileSchema } from '../../schemas/common.js';
import { contentDisposition, contentTypeOf, uploadedName } from './content.js';
import { requestedRange } from './range.js';

const pathParams = z.strictObject({
  '*': z.string().describe('File path, e.g. uploads/data.csv'),
});
const maxFilesPerUpload = 20;

/**
 * The user's files. Paths are checked with the platform's one path rule (`normalizeFilePath`);
 * sizes against MAX_UPLOAD_BYTES; totals against the user's quota, enforced by the store.
 */
export const fileRoutes: FastifyPluginAsyncZod = async (app) => {
  const { store, config } = app.services;
  const { maxUploadBytes, userQuotaBytes, userQuotaFiles } = config.files;

  // Multipart is accepted here only: everywhere else it is an unsupported media type.
  await app.register(fastifyMultipart, {
    limits: {
      fileSize: maxUploadBytes,
      files: maxFilesPerUpload,
      fields: 5,
      fieldSize: 2048,
      parts: maxFilesPerUpload + 5,
    },
  });

  app.get(
    '/files',
    {
      schema: {
        tags: ['files'],
        summary: 'Your files (optionally under a folder), with your quota',
        querystring: z.strictObject({
          prefix: z.string().max(1024).optional().describe('A folder, e.g. uploads/ or outputs/reports/'),
        }),
        response: {
          200: z.object({
            items: z.array(storedFileSchema),
            usedBytes: z.number(),
            limitBytes: z.number(),
            maxUploadBytes: z.number().describe('Largest upload the server accepts, in bytes'),
          }),
          ...errors(400, 401),
        },
      },
    },
    async (request) => {
      const { user } = currentUser(request);
      const { prefix } = request.query;
      const folder = prefix ? normalizeFilePath(prefix, { allowFolder: true }) : '';
      const [items, usedBytes] = await Promise.all([
        store.files.list(user.id, folder),
        store.files.usage(user.id),
      ]);
      return { items, usedBytes, limitBytes: userQuotaBytes, maxUploadBytes };
    },
  );

  app.post(
    '/files',
    {
      schema: {
        tags: ['files'],
        summary: 'Upload files (multipart/form-data: optional field `dir`, then one or more file parts)',
        consumes: ['multipart/form-data'],
        response: { 201: z.object({ items: z.array(storedFileSchema) }), ...errors(400, 401, 413, 415) },
      },
    },
    async (request, reply) => {
      const { user } = currentUser(request);
      if (!request.isMultipart()) {
        throw new ApiError(415, 'unsupported_media_type', 'The body must be multipart/form-data.');
      }
      let dir = 'uploads';
      let total = 0;
      const received: { name: string; content: Buffer }[] = [];
      // Everything is read before anything is written, so `dir` may come before or after the files.
      for await (const part of request.parts()) {
        if (part.type === 'field') {
          if (part.fieldname !== 'dir' || typeof part.value !== 'string') {
            throw new ApiError(
              400,
              'validation_failed',
              `Unknown form field ${JSON.stringify(part.fieldname)}.`,
              [{ path: `body.${part.fieldname}`, message: 'unknown field (only `dir` and files)' }],
            );
          }
          dir = part.value;
          continue;
        }
        const content = await part.toBuffer();
        total += content.length;
        if (total > maxUploadBytes) {
          throw new ApiError(413, 'payload_too_large', `One upload carries at most ${maxUploadBytes} bytes.`);
        }
        received.push({ name: uploadedName(part.filename ?? ''), content });
      }
      if (received.length === 0) {
        throw new ApiError(400, 'validation_failed', 'The upload holds no file.', [
          { path: 'body', message: 'at least one file part is required' },
        ]);
      }
      const folder = normalizeFilePath(dir, { allowFolder: true });
      const targets = received.map((file) => {
        if (!file.name) throw new InvalidPathError(file.name, 'a file part has no name');
        return { path: normalizeFilePath(`${folder}/${file.name}`), content: file.content };
      });
      const items = [];
      for (const target of targets) {
        items.push(
          await store.files.put(user.id, target.path, target.content, userQuotaBytes, userQuotaFiles),
        );
      }
      return reply.code(201).send({ items });
    },
  );

  app.get(
    '/files/*',
    {
      schema: {
        tags: ['files'],
        summary: 'Download a file (streamed; a single `Range: bytes=` range is answered with 206)',
        params: pathParams,
        response: {
          200: z.unknown().describe('The file bytes'),
          206: z.unknown().describe('The requested range of the file'),
          304: z.null(),
          ...errors(400, 401, 404, 416),
        },
      },
    },
    async (request, reply) => {
      const { user } = currentUser(request);
      const filePath = normalizeFilePath(request.params['*']);
      const etagOf = (sha256: string) => `"${sha256}"`;
      const notModified = (sha256: string) => request.headers['if-none-match'] === etagOf(sha256);
      // Streamed from the blob store: the API never holds a whole file.
      const file = await store.files.open(user.id, filePath, (meta) =>
        notModified(meta.sha256)
          ? undefined
          : requestedRange(
              request.headers.range,
              meta.size,
              request.headers['if-range'] as string | undefined,
              etagOf(meta.sha256),
            ),
      );
      if (!file) throw notFound('The file');
      void reply
        .header('etag', etagOf(file.sha256))
        .header('accept-ranges', 'bytes')
        .header('cache-control', 'private, no-cache')
        .header('content-disposition', contentDisposition(file.path))
        // User content never runs as a page of this origin, whatever its type.
        .header('content-security-policy', "sandbox; default-src 'none'");
      if (notModified(file.sha256)) {
        file.content.destroy();
        return reply.code(304).send(null);
      }
      void reply.type(contentTypeOf(file.path));
      if (file.range) {
        const { start, end } = file.range;
        void reply
          .code(206)
          .header('content-range', `bytes ${start}-${end}/${file.size}`)
          .header('content-length', end - start + 1);
      } else {
        void reply.header('content-length', file.size);
      }
      return reply.send(file.content);
    },
  );

  app.delete(
    '/files/*',
    {
      schema: {
        tags: ['files'],
        summary: 'Delete a file',
        params: pathParams,
        response: { 204: z.null(), ...errors(400, 401, 404) },
      },
    },
    async (request, reply) => {
      const { user } = currentUser(request);
      const deleted = await store.files.delete(user.id, normalizeFilePath(request.params['*']));
      if (!deleted) throw notFound('The file');
      return reply.code(204).send(null);
    },
  );

  // Raw uploads take any content type as bytes, so they live in a scope with that one parser.
  await app.register(async (raw) => {
    raw.removeAllContentTypeParsers();
    raw.addContentTypeParser(
      '*',
      { parseAs: 'buffer', bodyLimit: maxUploadBytes },
      (_request, body, done) => {
        done(null, body);
      },
    );
    raw.withTypeProvider<ZodTypeProvider>().put(
      '/files/*',
      {
        bodyLimit: maxUploadBytes,
        schema: {
          tags: ['files'],
          summary: 'Upload one file as the raw body (any content type); replaces an existing file',
          params: pathParams,
          response: { 201: storedFileSchema, ...errors(400, 401, 413) },
        },
      },
      async (request, reply) => {
        const { user } = currentUser(request);
        const filePath = normalizeFilePath(request.params['*']);
        const body = request.body;
        const content = Buffer.isBuffer(body) ? body : Buffer.alloc(0);
        const stored = await store.files.put(user.id, filePath, content, userQuotaBytes, userQuotaFiles);
        return reply.code(201).send(stored);
      },
    );
  });
};
