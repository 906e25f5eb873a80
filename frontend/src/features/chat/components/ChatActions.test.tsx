import { fireEvent, screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { HttpResponse, http } from 'msw';
import { describe, expect, it } from 'vitest';
import type { Execution, Message } from '../../../lib';
import { renderWithApp } from '../../../testing/render';
import { answerUploads, recordRequests, server, sseResponse } from '../../../testing/server';
import { ChatView } from '../index';

const at = '2026-05-01T10:00:00Z';
const execution = (id: string, status: Execution['status'], messageId = 'm1'): Execution => ({
  id,
  userId: 'u1',
  sessionId: 's1',
  kind: 'agent',
  status,
  input: { messageId, text: 'Old question' },
  result: null,
  error: status === 'failed' ? { code: 'model_error', message: 'the model failed' } : null,
  usage: null,
  attempt: 1,
  workerId: 'w1',
  cancelRequested: false,
  createdAt: at,
  startedAt: at,
  finishedAt: at,
  durationMs: 10,
  automationId: null,
  automationVersion: null,
  trigger: null,
  triggerId: null,
  scheduledFor: null,
});
const message = (id: string, role: Message['role'], text: string): Message => ({
  id,
  sessionId: 's1',
  executionId: 'e1',
  role,
  parts: [{ type: 'text', text }],
  createdAt: at,
});

/** A session with one finished turn (its execution `status`) that accepts new messages. */
function conversation(status: Execution['status']) {
  const calls = recordRequests();
  server.use(
    http.get('/api/v1/sessions/s1/messages', () =>
      HttpResponse.json({
        items: [message('m1', 'user', 'Old question'), message('m2', 'assistant', 'Old answer')],
        nextCursor: null,
      }),
    ),
    http.get('/api/v1/executions', () =>
      HttpResponse.json({ items: [execution('e1', status)], nextCursor: null }),
    ),
    http.post('/api/v1/sessions/s1/messages', async ({ request }) => {
      const { text } = (await request.json()) as { text: string };
      return HttpResponse.json(
        {
          message: { ...message('m9', 'user', text), executionId: 'e9' },
          execution: execution('e9', 'queued', 'm9'),
        },
        { status: 202 },
      );
    }),
    http.get('/api/v1/executions/e9/events', () =>
      sseResponse([{ id: '1-0', type: 'execution.started', data: { attempt: 1, workerId: 'w' } }], true),
    ),
    http.get('/api/v1/me', () =>
      HttpResponse.json({
        user: { id: 'u1', name: 'Mei', isAdmin: false, createdAt: at },
        quota: { usedBytes: 0, limitBytes: 1 },
        platform: { isolation: 'bwrap', languages: ['javascript'], version: '1', modelConfigured: true },
      }),
    ),
  );
  return calls;
}

const posted = (calls: { method: string; path: string; body: unknown }[]) =>
  calls.filter((call) => call.method === 'POST' && call.path === '/api/v1/sessions/s1/messages');

describe('ChatView actions', () => {
  it('edits a sent message in the composer and sends the changed text as a new turn', async () => {
    const calls = conversation('succeeded');
    await renderWithApp(<ChatView sessionId="s1" />);
    await userEvent.click(await screen.findByRole('button', { name: 'Edit' }));
    const composer = screen.getByLabelText('Message to the agent') as HTMLTextAreaElement;
    expect(composer.value).toBe('Old question');
    expect(document.activeElement).toBe(composer);
    await userEvent.type(composer, ', with June{Enter}');
    await waitFor(() =>
      expect(posted(calls).map((call) => call.body)).toEqual([{ text: 'Old question, with June' }]),
    );
    await waitFor(() => expect(composer.value).toBe(''));
  });

  it('regenerates a finished turn with the same message, and offers Retry for a failed one', async () => {
    const calls = conversation('succeeded');
    const { unmount } = await renderWithApp(<ChatView sessionId="s1" />);
    await userEvent.click(await screen.findByRole('button', { name: 'Regenerate' }));
    await waitFor(() => expect(posted(calls).map((call) => call.body)).toEqual([{ text: 'Old question' }]));
    // While the new turn runs, nothing else can be regenerated.
    await waitFor(() => expect(screen.queryByRole('button', { name: 'Regenerate' })).toBeNull());
    unmount();

    const again = conversation('failed');
    await renderWithApp(<ChatView sessionId="s1" />);
    expect(await screen.findByText(/the model failed/)).toBeTruthy();
    await userEvent.click(screen.getByRole('button', { name: 'Retry' }));
    await waitFor(() => expect(posted(again).map((call) => call.body)).toEqual([{ text: 'Old question' }]));
  });

  it('attaches a file from the composer: it is stored in uploads/ and named in the draft', async () => {
    conversation('succeeded');
    const sent = answerUploads();
    const { container } = await renderWithApp(<ChatView sessionId="s1" />);
    const composer = (await screen.findByLabelText('Message to the agent')) as HTMLTextAreaElement;
    await userEvent.type(composer, 'Summarise this');
    const input = container.querySelector('input[type="file"]') as HTMLInputElement;
    fireEvent.change(input, {
      target: { files: [new File(['a,b\n1,2'], 'sales.csv', { type: 'text/csv' })] },
    });
    await waitFor(() => expect(composer.value).toBe('Summarise this\nAttached file: uploads/sales.csv'));
    expect(sent).toHaveLength(1);
    expect(sent[0]!.get('dir')).toBe('uploads');
    expect((sent[0]!.get('file') as File).name).toBe('sales.csv');
    expect(document.activeElement).toBe(composer);
  });
});
