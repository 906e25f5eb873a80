import { screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { json, mockFetch, renderWithApp } from '../../../testing/render';
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

afterEach(() => vi.unstubAllGlobals());

describe('RunsPanel', () => {
  it('builds the input form from the schema, runs, and shows the schema problems', async () => {
    const calls = mockFetch([
      ({ method, body }) =>
        method === 'POST'
          ? (body as { input?: { name?: string } }).input?.name
            ? json(202, { ...run, id: 'e2', status: 'queued', error: null })
            : json(400, {
                error: {
                  code: 'validation_failed',
                  message: 'bad input',
                  details: [{ path: 'body.input.name', message: 'is required' }],
                },
              })
          : undefined,
      () => json(200, { items: [run], nextCursor: null }),
    ]);
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
    const calls = mockFetch([
      ({ method }) => (method === 'POST' ? json(202, { ...run, id: 'e3', status: 'queued' }) : undefined),
      () => json(200, { items: [run], nextCursor: null }),
    ]);
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
    mockFetch([() => json(200, { items: [{ ...run, automationVersion: 3 }], nextCursor: null })]);
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
    mockFetch([() => json(200, { items: [run], nextCursor: null })]);
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
