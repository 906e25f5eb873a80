import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';

// The end-to-end files run in node against real backends; only the jsdom tests have a DOM to
// clean and an API to stand in for.
if (typeof document !== 'undefined') {
  const { cleanup } = await import('@testing-library/react');
  const { server } = await import('./server');
  // 'error' makes an unrouted request fail in the app; the list makes it fail the test too, even
  // when the app shows the failure in a way the test does not look at.
  const unrouted: string[] = [];
  server.events.on('request:unhandled', ({ request }) => {
    unrouted.push(`${request.method} ${request.url}`);
  });
  beforeAll(() => server.listen({ onUnhandledRequest: 'error' }));
  beforeEach(() => {
    unrouted.length = 0;
  });
  afterEach(() => {
    cleanup();
    server.resetHandlers();
    sessionStorage.clear();
    localStorage.clear();
    if (unrouted.length > 0) throw new Error(`no route answered: ${unrouted.join(', ')}`);
  });
  afterAll(() => server.close());
}
