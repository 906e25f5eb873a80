import { HttpResponse, http } from 'msw';
import { setupServer } from 'msw/node';
import { onTestFinished, vi } from 'vitest';

/**
 * The API the component tests talk to. It starts with no routes: each test adds the ones it needs
 * with `server.use(...)`, and the shared setup (setup.ts) fails a test whose app made a request no
 * route answered.
 */
export const server = setupServer();

export interface RecordedRequest {
  method: string;
  /** Path and query string, e.g. `/api/v1/admin/audit?limit=25`. */
  path: string;
  /** The parsed JSON body; undefined when the request sent none. */
  body: unknown;
}

/** Every request the app makes from now until the test ends, in the order they were sent. */
export function recordRequests(): RecordedRequest[] {
  const requests: RecordedRequest[] = [];
  const record = ({ request }: { request: Request }) => {
    const url = new URL(request.url);
    const recorded: RecordedRequest = {
      method: request.method,
      path: url.pathname + url.search,
      body: undefined,
    };
    requests.push(recorded);
    // Listeners are not awaited, so the body is filled in once read. Reading an in-memory body
    // takes only microtasks: it is there before any later task (a render, a timer, a waitFor retry).
    if (request.headers.get('content-type')?.includes('application/json')) {
      void request
        .clone()
        .json()
        .then((body: unknown) => {
          recorded.body = body;
        });
    }
  };
  server.events.on('request:start', record);
  onTestFinished(() => {
    server.events.removeListener('request:start', record);
  });
  return requests;
}

/**
 * Stores uploads (`POST /api/v1/files`) and returns the form of each, in order. The forms are the
 * app's own, caught as it fills them in: the copy a handler receives has every file named "blob",
 * as vitest's jsdom environment drops file names when it hands a FormData body to Node's
 * `Request` (vitest-dev/vitest#9260).
 */
export function answerUploads(): FormData[] {
  const append = vi.spyOn(FormData.prototype, 'append');
  onTestFinished(() => append.mockRestore());
  const sent: FormData[] = [];
  server.use(
    http.post('/api/v1/files', () => {
      // The app fills in a form and sends it at once: the last one filled in is this request's.
      const form = append.mock.contexts.at(-1) as FormData;
      sent.push(form);
      const files = form.getAll('file') as File[];
      return HttpResponse.json(
        {
          items: files.map((file) => ({
            path: `uploads/${file.name}`,
            size: file.size,
            modifiedAt: '2026-05-01T10:00:00Z',
          })),
        },
        { status: 201 },
      );
    }),
  );
  return sent;
}

/** An SSE answer from a list of events; `keepOpen` leaves the stream open after them. */
export function sseResponse(events: { id: string; type: string; data: object }[], keepOpen = false) {
  const text = events
    .map((e) => `id: ${e.id}\nevent: ${e.type}\ndata: ${JSON.stringify(e.data)}\n\n`)
    .join('');
  const encoder = new TextEncoder();
  let sent = false;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (!sent) {
        sent = true;
        controller.enqueue(encoder.encode(text));
      } else if (!keepOpen) controller.close();
      else return new Promise<void>(() => {});
    },
  });
  return new HttpResponse(body, { status: 200, headers: { 'content-type': 'text/event-stream' } });
}
