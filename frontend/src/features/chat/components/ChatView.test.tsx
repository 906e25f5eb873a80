import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { HttpResponse, http } from 'msw';
import { describe, expect, it } from 'vitest';
import type { Execution, Message } from '../../../lib';
import { renderWithApp } from '../../../testing/render';
import { recordRequests, server, sseResponse } from '../../../testing/server';
import { ChatView } from '../index';

const at = '2026-05-01T10:00:00Z';
const execution = (id: string, status: Execution['status']): Execution => ({
  id,
  userId: 'u1',
  sessionId: 's1',
  kind: 'agent',
  status,
  input: { messageId: 'm1', text: 'hi' },
  result: null,
  error: null,
  usage: status === 'succeeded' ? { inputTokens: 1200, outputTokens: 34 } : null,
  attempt: 1,
  workerId: 'w1',
  cancelRequested: false,
  createdAt: at,
  startedAt: at,
  finishedAt: null,
  durationMs: null,
  automationId: null,
  automationVersion: null,
  trigger: null,
  triggerId: null,
  scheduledFor: null,
});
const message = (
  id: string,
  role: Message['role'],
  parts: Message['parts'],
  executionId = 'e1',
): Message => ({
  id,
  sessionId: 's1',
  executionId,
  role,
  parts,
  createdAt: at,
});

const signedIn = () =>
  http.get('/api/v1/me', () =>
    HttpResponse.json({
      user: { id: 'u1', name: 'Mei', isAdmin: false, createdAt: at },
      quota: { usedBytes: 0, limitBytes: 1 },
      platform: { isolation: 'bwrap', languages: ['javascript'], version: '1', modelConfigured: true },
    }),
  );

describe('ChatView', () => {
  it('renders a stored turn with markdown, a collapsible tool card and its usage', async () => {
    server.use(
      http.get('/api/v1/sessions/s1/messages', () =>
        HttpResponse.json({
          items: [
            message('m1', 'user', [{ type: 'text', text: 'List my files' }]),
            message('m2', 'assistant', [
              { type: 'tool-call', toolCallId: 't1', toolName: 'list_files', input: { dir: 'uploads' } },
            ]),
            message('m3', 'tool', [
              { type: 'tool-result', toolCallId: 't1', toolName: 'list_files', output: ['uploads/a.csv'] },
            ]),
            message('m4', 'assistant', [{ type: 'text', text: 'You have **one** file.' }]),
          ],
          nextCursor: null,
        }),
      ),
      http.get('/api/v1/executions', () =>
        HttpResponse.json({ items: [execution('e1', 'succeeded')], nextCursor: null }),
      ),
      signedIn(),
    );
    await renderWithApp(<ChatView sessionId="s1" />);
    expect(await screen.findByText('List my files')).toBeTruthy();
    const card = (await screen.findByText('list_files')).closest('details');
    expect(card).not.toBeNull();
    expect(card?.open).toBe(false);
    expect(within(card as HTMLElement).getByText('done')).toBeTruthy();
    expect(card?.textContent).toContain('uploads/a.csv');
    // Markdown is rendered (lazily), not shown as raw asterisks.
    await waitFor(() => expect(screen.getByText('one').tagName).toBe('STRONG'), { timeout: 10_000 });
    expect(screen.getByText('1,200 input · 34 output tokens')).toBeTruthy();
  });

  it('streams a new turn live and cancels it with Stop', async () => {
    const calls = recordRequests();
    server.use(
      http.get('/api/v1/sessions/s1/messages', () => HttpResponse.json({ items: [], nextCursor: null })),
      http.get('/api/v1/executions', () => HttpResponse.json({ items: [], nextCursor: null })),
      http.post('/api/v1/sessions/s1/messages', () =>
        HttpResponse.json(
          {
            message: message('m9', 'user', [{ type: 'text', text: 'Hello agent' }], 'e9'),
            execution: execution('e9', 'queued'),
          },
          { status: 202 },
        ),
      ),
      http.get('/api/v1/executions/e9/events', () =>
        sseResponse(
          [
            { id: '1-0', type: 'execution.started', data: { attempt: 1, workerId: 'w' } },
            { id: '2-0', type: 'text.delta', data: { text: 'Working on ', attempt: 1 } },
            { id: '3-0', type: 'text.delta', data: { text: 'it', attempt: 1 } },
            {
              id: '4-0',
              type: 'tool.call',
              data: { toolCallId: 't', toolName: 'run_code', input: { code: '1+1' }, attempt: 1 },
            },
          ],
          true,
        ),
      ),
      http.post('/api/v1/executions/e9/cancel', () =>
        HttpResponse.json(execution('e9', 'running'), { status: 202 }),
      ),
      signedIn(),
    );
    await renderWithApp(<ChatView sessionId="s1" />);
    await userEvent.type(await screen.findByLabelText('Message to the agent'), 'Hello agent{Enter}');
    expect(await screen.findByText('Hello agent')).toBeTruthy();
    const log = await screen.findByRole('log', { name: 'Agent reply' });
    await waitFor(() => expect(log.textContent).toContain('Working on it'));
    expect(within(log).getByText('run_code')).toBeTruthy();
    expect(within(log).getByText('running')).toBeTruthy();
    // Stop takes Send's place below the conversation, so it never scrolls out of view.
    expect(screen.queryByRole('button', { name: 'Send' })).toBeNull();
    await userEvent.click(screen.getByRole('button', { name: 'Stop' }));
    await waitFor(() =>
      expect(
        calls.some((call) => call.method === 'POST' && call.path === '/api/v1/executions/e9/cancel'),
      ).toBe(true),
    );
  });

  it('renders GitHub-flavoured markdown tables, and code blocks the keyboard can reach and copy', async () => {
    server.use(
      http.get('/api/v1/sessions/s1/messages', () =>
        HttpResponse.json({
          items: [
            message('m1', 'user', [{ type: 'text', text: 'table please' }]),
            message('m2', 'assistant', [
              {
                type: 'text',
                text: '| Month | Sales |\n| --- | --- |\n| May | 12 |\n\n```js\nconst a = 1;\n```',
              },
            ]),
          ],
          nextCursor: null,
        }),
      ),
      http.get('/api/v1/executions', () =>
        HttpResponse.json({ items: [execution('e1', 'succeeded')], nextCursor: null }),
      ),
      signedIn(),
    );
    await renderWithApp(<ChatView sessionId="s1" />);
    const cell = await screen.findByRole('cell', { name: 'May' }, { timeout: 10_000 });
    expect(cell.closest('table')).not.toBeNull();
    expect(screen.queryByText(/\| Month \|/)).toBeNull();
    const pre = document.querySelector('.markdown pre') as HTMLElement;
    expect(pre.tabIndex).toBe(0);
    expect(screen.getByRole('button', { name: 'Copy code' })).toBeTruthy();
    expect(screen.getByRole('button', { name: 'Copy reply' })).toBeTruthy();
  });

  it('Enter never leaves a newline: nothing is typed while a turn streams, and after a failed send Enter sends', async () => {
    let posts = 0;
    const calls = recordRequests();
    server.use(
      http.get('/api/v1/sessions/s1/messages', () => HttpResponse.json({ items: [], nextCursor: null })),
      http.get('/api/v1/executions', () => HttpResponse.json({ items: [], nextCursor: null })),
      http.post('/api/v1/sessions/s1/messages', () => {
        posts += 1;
        if (posts === 1)
          return HttpResponse.json({ error: { code: 'unavailable', message: 'down' } }, { status: 503 });
        return HttpResponse.json(
          {
            message: message('m9', 'user', [{ type: 'text', text: 'again' }], 'e9'),
            execution: execution('e9', 'queued'),
          },
          { status: 202 },
        );
      }),
      http.get('/api/v1/executions/e9/events', () =>
        sseResponse([{ id: '1-0', type: 'text.delta', data: { text: 'Partial', attempt: 1 } }], true),
      ),
      signedIn(),
    );
    await renderWithApp(<ChatView sessionId="s1" />);
    const composer = (await screen.findByLabelText('Message to the agent')) as HTMLTextAreaElement;
    // Opening a session puts the cursor in the composer.
    await waitFor(() => expect(document.activeElement).toBe(composer));
    await userEvent.type(composer, 'again{Enter}');
    expect(await screen.findByRole('alert')).toBeTruthy();
    expect(composer.value).toBe('again');
    await userEvent.type(composer, '{Enter}');
    await waitFor(() => expect(posts).toBe(2));
    // The failure from before is gone once the next send succeeds.
    await waitFor(() => expect(screen.queryByRole('alert')).toBeNull());
    await screen.findByRole('button', { name: 'Stop' });
    await userEvent.type(composer, 'next{Enter}');
    expect(composer.value).toBe('next');
    expect(calls.filter((call) => call.method === 'POST').length).toBe(2);
  });
});
