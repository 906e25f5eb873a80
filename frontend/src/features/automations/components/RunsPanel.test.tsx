import { screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { HttpResponse, http } from 'msw';
import { describe, expect, it, vi } from 'vitest';
import { renderWithApp } from '../../../testing/render';
import { recordRequests, server } from '../../../testing/server';
import type { Automation } from '../api/saved';
import { RunsPanel } from './RunsPanel';

const automation = {
  id: 'a1',
  userId: 'u',
  name: 'Greeter',
  description: '',
  enabled: true,
  version: 3,
  language: 'javascript',
  code: 'return input',
  inputSchema: {
    type: 'object',
    properties: { name: { type: 'string' }, count: { type: 'integer', default: 2 } },
    required: ['name'],
  },
  createdAt: '2026-01-01T00:00:00.000Z',
  updatedAt: '2026-01-01T00:00:00.000Z',
} as Automation;

const run = {
  id: 'e1',
  userId: 'u',
  sessionId: null,
  kind: 'script',
  status: 'failed',
  input: { language: 'javascript', code: 'x', input: { name: 'Ann' } },
  result: null,
  error: { code: 'syntax_error', message: 'Unexpected token', line: 4, column: 7 },
  usage: null,
  attempt: 1,
  workerId: 'w',
  cancelRequested: false,
  createdAt: '2026-01-01T00:00:00.000Z',
  startedAt: null,
  finishedAt: null,
  durationMs: null,
  automationId: 'a1',
  automationVersion: 2,
  trigger: 'webhook',
  triggerId: 't1',
  scheduledFor: null,
};

/** The automation's run history: `items` on every page. */
const runs = (items: unknown[]) =>
  http.get('/api/v1/automations/a1/runs', () => HttpResponse.json({ items, nextCursor: null }));

describe('RunsPanel', () => {
  it('builds the input form from the schema, runs, and shows the schema problems', async () => {
    const calls = recordRequests();
    server.use(
      http.post('/api/v1/automations/a1/runs', async ({ request }) =>
        ((await request.json()) as { input?: { name?: string } }).input?.name
          ? HttpResponse.json({ ...run, id: 'e2', status: 'queued', error: null }, { status: 202 })
          : HttpResponse.json(
              {
                error: {
                  code: 'validation_failed',
                  message: 'bad input',
                  details: [{ path: 'body.input.name', message: 'is required' }],
                },
              },
              { status: 400 },
            ),
      ),
      runs([run]),
    );
    await renderWithApp(<RunsPanel automation={automation} />);
    await userEvent.click(await screen.findByRole('button', { name: 'Run now' }));
    expect(await screen.findByText('body.input.name')).toBeTruthy();
    await userEvent.type(screen.getByLabelText('name *'), 'Bo');
    await userEvent.click(screen.getByRole('button', { name: 'Run now' }));
    await waitFor(() =>
      expect(calls.filter((c) => c.method === 'POST').at(-1)?.body).toEqual({ input: { name: 'Bo' } }),
    );
  });

  it('re-runs a run with its input and version, and shows where a script error is', async () => {
    const calls = recordRequests();
    server.use(
      http.post('/api/v1/automations/a1/runs', () =>
        HttpResponse.json({ ...run, id: 'e3', status: 'queued' }, { status: 202 }),
      ),
      runs([run]),
    );
    await renderWithApp(<RunsPanel automation={automation} />, { route: '/?run=e1' });
    expect((await screen.findByTestId('run-detail')).textContent).toContain('line 4, column 7');
    expect(screen.getByRole('link', { name: 'Link' }).getAttribute('href')).toBe('/?run=e1');
    expect(screen.getByText('Webhook')).toBeTruthy();
    await userEvent.click(screen.getByRole('button', { name: 'Re-run' }));
    await waitFor(() =>
      expect(calls.find((c) => c.method === 'POST')?.body).toEqual({ input: { name: 'Ann' }, version: 2 }),
    );
  });

  it('marks the error of a run of the version in the editor, and takes the cursor there', async () => {
    server.use(runs([{ ...run, automationVersion: 3 }]));
    const problems: unknown[] = [];
    const goTo = vi.fn();
    await renderWithApp(
      <RunsPanel automation={automation} onProblem={(p) => problems.push(p)} onGoTo={goTo} />,
      { route: '/?run=e1' },
    );
    await userEvent.click(await screen.findByRole('button', { name: 'Go to line 4, column 7' }));
    expect(goTo).toHaveBeenCalledWith(4, 7);
    expect(problems.at(-1)).toEqual({ line: 4, column: 7, message: 'Unexpected token' });
  });

  it('does not mark an error of an older version in the editor', async () => {
    server.use(runs([run]));
    const problems: unknown[] = [];
    await renderWithApp(
      <RunsPanel automation={automation} onProblem={(p) => problems.push(p)} onGoTo={() => {}} />,
      { route: '/?run=e1' },
    );
    expect((await screen.findByTestId('run-detail')).textContent).toContain('line 4, column 7');
    expect(screen.queryByRole('button', { name: /Go to line/ })).toBeNull();
    expect(problems.every((p) => p === null)).toBe(true);
  });
});
