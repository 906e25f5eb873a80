import { existsSync } from 'node:fs';
import path from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/** Paths that belong to the server, never to the web app's client-side router. */
const serverPaths = /^\/(api|health|metrics|docs|openapi\.json)(\/|$|\?)/;

/**
 * The built web app. Its hashed assets never change, so browsers keep them for a year; its
 * index.html always revalidates, so a new deployment is picked up on the next load.
 */
export async function registerSpa(app: FastifyInstance, staticDir: string): Promise<void> {
  const root = path.resolve(staticDir);
  if (!existsSync(path.join(root, 'index.html'))) {
    throw new Error(`the web app directory ${root} has no index.html (build the frontend first)`);
  }
  await app.register(fastifyStatic, {
    root,
    // Files are listed once at start-up; unknown paths fall through to the history fallback.
    wildcard: false,
    // The build writes .br and .gz beside each text file; the one the browser accepts is sent.
    preCompressed: true,
    cacheControl: false,
    setHeaders: (reply, filePath) => {
      const relative = path.relative(root, filePath).split(path.sep).join('/');
      if (relative === 'index.html') void reply.header('cache-control', 'no-cache');
      else if (relative.startsWith('assets/'))
        void reply.header('cache-control', 'public, max-age=31536000, immutable');
      else void reply.header('cache-control', 'public, max-age=3600');
    },
  });
}

/** History fallback: a GET for a page of the web app gets index.html; anything else is not ours. */
export function wantsSpaPage(request: FastifyRequest): boolean {
  if (request.method !== 'GET' && request.method !== 'HEAD') return false;
  if (serverPaths.test(request.url)) return false;
  // A missing file (an old hashed asset) is a 404, not the page: HTML in its place breaks loudly.
  const lastSegment = request.url.split('?')[0]?.split('/').pop() ?? '';
  if (lastSegment.includes('.')) return false;
  const accept = request.headers.accept ?? '';
  return accept === '' || accept.includes('text/html') || accept.includes('*/*');
}

export function sendSpaPage(reply: FastifyReply): Promise<void> | FastifyReply {
  return reply.header('cache-control', 'no-cache').sendFile('index.html');
}
