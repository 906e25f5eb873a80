import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { HttpResponse, http } from 'msw';
import { describe, expect, it } from 'vitest';
import { renderWithApp } from '../../../testing/render';
import { recordRequests, server, sseResponse } from '../../../testing/server';
import { AutomationsPage } from '../index';

const me = (isolation: 'bwrap' | 'process', languages: string[]) => ({
  user: { id: 'u1', name: 'Mei', isAdmin: false, createdAt: '2026-01-01T00:00:00Z' },
  quota: { usedBytes: 0, limitBytes: 1 },
  platform: { isolation, languages, version: '1', sandboxUids: 'separate' },
});

/** The page's saved automations, run history and a run's egress, all empty. */
const otherSections = () => [
  http.get('/api/v1/automations', () => HttpResponse.json({ items: [], nextCursor: null })),
  http.get('/api/v1/executions', () => HttpResponse.json({ items: [], nextCursor: null })),
  http.get('/api/v1/executions/:id/egress', () => HttpResponse.json({ items: [] })),
];

const languageOptions = () =>
  within(screen.getByLabelText('Script language'))
    .getAllByRole('option')
    .map((option) => option.textContent);

describe('AutomationsPage', () => {
  it('offers the languages every worker runs, and says the isolation level', async () => {
    server.use(
      http.get('/api/v1/me', () => HttpResponse.json(me('bwrap', ['javascript', 'typescript', 'python']))),
      ...otherSections(),
    );
    await renderWithApp(<AutomationsPage />);
    expect(await screen.findByText('Sandbox isolation: bwrap')).toBeTruthy();
    expect(languageOptions()).toEqual(['JavaScript', 'TypeScript', 'Python']);
  });

  it('refuses to run with input that is not JSON', async () => {
    const calls = recordRequests();
    server.use(
      http.get('/api/v1/me', () => HttpResponse.json(me('process', ['javascript']))),
      ...otherSections(),
    );
    await renderWithApp(<AutomationsPage />);
    const input = await screen.findByLabelText('Input (JSON)');
    await userEvent.clear(input);
    await userEvent.type(input, '{{ not json');
    expect(screen.getByText('The input is not valid JSON.')).toBeTruthy();
    expect((screen.getByRole('button', { name: 'Run' }) as HTMLButtonElement).disabled).toBe(true);
    expect(calls.some((c) => c.method === 'POST')).toBe(false);
  });

  it('runs the script with its input and shows the streamed output and result', async () => {
    const calls = recordRequests();
    server.use(
      http.get('/api/v1/me', () => HttpResponse.json(me('process', ['javascript']))),
      http.post('/api/v1/executions', () =>
        HttpResponse.json({ id: 'e1', status: 'queued', kind: 'script' }, { status: 202 }),
      ),
      http.get('/api/v1/executions/e1/events', () =>
        sseResponse([
          { id: '1-0', type: 'execution.started', data: { attempt: 1, workerId: 'w' } },
          { id: '2-0', type: 'output', data: { stream: 'stdout', data: 'hello, world\n', attempt: 1 } },
          {
            id: '3-0',
            type: 'execution.completed',
            data: { status: 'succeeded', result: { greeted: 'world' }, durationMs: 12 },
          },
        ]),
      ),
      ...otherSections(),
    );
    await renderWithApp(<AutomationsPage />);
    await screen.findByText('Sandbox isolation: process');
    await userEvent.click(screen.getByRole('button', { name: 'Run' }));
    expect((await screen.findByTestId('run-output')).textContent).toContain('hello, world');
    await waitFor(() => expect(screen.getByTestId('run-result').textContent).toContain('"greeted": "world"'));
    const post = calls.find((c) => c.method === 'POST' && c.path === '/api/v1/executions');
    expect(post?.body).toMatchObject({ language: 'javascript', input: { name: 'world' } });
    expect(String((post?.body as { code?: string } | undefined)?.code)).toContain(
      "console.log('hello,', name)",
    );
  });
});
