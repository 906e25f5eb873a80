import { QueryClient } from '@tanstack/react-query';
import { render } from '@testing-library/react';
import i18next from 'i18next';
import type { ReactElement } from 'react';
import { initReactI18next } from 'react-i18next';
import { MemoryRouter, Route, Routes } from 'react-router';
import { vi } from 'vitest';
import { AppProviders } from '../app/providers';
import en from '../i18n/en.json';
import zhTW from '../i18n/zh-TW.json';

export async function testI18n(language: 'en' | 'zh-TW' = 'en') {
  const instance = i18next.createInstance();
  await instance.use(initReactI18next).init({
    lng: language,
    resources: { en: { translation: en }, 'zh-TW': { translation: zhTW } },
    fallbackLng: 'en',
    showSupportNotice: false,
    interpolation: { escapeValue: false },
  });
  return instance;
}

export async function renderWithApp(
  element: ReactElement,
  { path = '/', route = '/', language = 'en' as 'en' | 'zh-TW' } = {},
) {
  const i18n = await testI18n(language);
  const queryClient = new QueryClient({
    defaultOptions: { queries: { retry: false }, mutations: { retry: false } },
  });
  return {
    queryClient,
    ...render(
      <AppProviders i18n={i18n} queryClient={queryClient}>
        <MemoryRouter initialEntries={[route]}>
          <Routes>
            <Route path={path} element={element} />
          </Routes>
        </MemoryRouter>
      </AppProviders>,
    ),
  };
}

export type Handler = (request: {
  method: string;
  url: URL;
  body: unknown;
  headers: Headers;
}) => Response | Promise<Response> | undefined;

export const json = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

/** Replaces fetch with a list of handlers; the first that answers wins, else 404. */
export function mockFetch(handlers: Handler[]) {
  const calls: { method: string; path: string; body: unknown }[] = [];
  const fn = vi.fn(async (input: string | URL | Request, init?: RequestInit) => {
    const url = new URL(String(input), 'http://localhost');
    const method = init?.method ?? 'GET';
    let body: unknown;
    if (typeof init?.body === 'string') body = JSON.parse(init.body);
    calls.push({ method, path: url.pathname + url.search, body });
    for (const handler of handlers) {
      const response = await handler({ method, url, body, headers: new Headers(init?.headers) });
      if (response) return response;
    }
    return json(404, { error: { code: 'not_found', message: 'not found' } });
  });
  vi.stubGlobal('fetch', fn);
  return calls;
}

/** An SSE response from a list of events. */
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
  return new Response(body, { status: 200, headers: { 'content-type': 'text/event-stream' } });
}
