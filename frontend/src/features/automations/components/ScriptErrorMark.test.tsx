import { EditorView } from '@codemirror/view';
import { screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { HttpResponse, http } from 'msw';
import { beforeAll, describe, expect, it } from 'vitest';
import { renderWithApp } from '../../../testing/render';
import { server, sseResponse } from '../../../testing/server';
import { AutomationsPage } from './AutomationsPage';
import { giveRangesRects } from './jsdom-ranges';

const failedRun = {
  id: 'e1',
  userId: 'u',
  sessionId: null,
  kind: 'script',
  status: 'queued',
  input: { language: 'javascript', code: 'x' },
  result: null,
  error: null,
  usage: null,
  attempt: 0,
  workerId: null,
  cancelRequested: false,
  createdAt: '2026-05-01T10:00:00.000Z',
  startedAt: null,
  finishedAt: null,
  durationMs: null,
  automationId: null,
  automationVersion: null,
  trigger: null,
  triggerId: null,
  scheduledFor: null,
};

beforeAll(giveRangesRects);

describe('the quick-run editor and a script error', () => {
  it('marks the error in the editor, and the error text takes the cursor there', async () => {
    server.use(
      http.post('/api/v1/executions', () => HttpResponse.json(failedRun, { status: 202 })),
      http.get('/api/v1/executions', () => HttpResponse.json({ items: [], nextCursor: null })),
      http.get('/api/v1/automations', () => HttpResponse.json({ items: [], nextCursor: null })),
      http.get('/api/v1/executions/e1/events', () =>
        sseResponse([
          { id: '1-0', type: 'execution.started', data: { attempt: 1, workerId: 'w' } },
          {
            id: '2-0',
            type: 'execution.failed',
            data: {
              status: 'failed',
              error: {
                code: 'script_error',
                message: "SyntaxError: Unexpected token ';' (line 2, column 9)",
                line: 2,
                column: 9,
              },
              durationMs: 12,
            },
          },
        ]),
      ),
      http.get('/api/v1/executions/e1/egress', () => HttpResponse.json({ items: [] })),
      http.get('/api/v1/me', () =>
        HttpResponse.json({
          user: { id: 'u1', name: 'Mei', isAdmin: false, createdAt: '2026-01-01T00:00:00Z' },
          quota: { usedBytes: 0, limitBytes: 1 },
          platform: { isolation: 'bwrap', languages: ['javascript'], version: '1' },
        }),
      ),
    );
    const { container } = await renderWithApp(<AutomationsPage />);
    const content = await waitFor(() => {
      const element = container.querySelector('.cm-content');
      expect(element).not.toBeNull();
      return element as HTMLElement;
    });
    const view = EditorView.findFromDOM(content) as EditorView;
    const code = 'const ok = 1;\nlet x = ;\n';
    view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: code } });

    await userEvent.click(screen.getByRole('button', { name: 'Run' }));
    const goTo = await screen.findByRole('button', { name: 'Go to line 2, column 9' });
    await waitFor(() => expect(container.querySelector('.cm-lintRange-error')?.textContent).toBe(';'));

    await userEvent.click(goTo);
    expect(view.state.selection.main.head).toBe(code.indexOf(';', 14));
    expect(document.activeElement).toBe(view.contentDOM);
  });
});
