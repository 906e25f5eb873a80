import { screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { HttpResponse, http } from 'msw';
import { describe, expect, it } from 'vitest';
import { renderWithApp } from '../../../testing/render';
import { recordRequests, server } from '../../../testing/server';
import { AutomationList } from './AutomationList';

const summary = (over: Record<string, unknown>) => ({
  id: 'a1',
  userId: 'u',
  name: 'Nightly report',
  description: '',
  enabled: true,
  version: 2,
  language: 'javascript',
  code: 'return 1',
  inputSchema: null,
  createdAt: '2026-01-01T00:00:00.000Z',
  updatedAt: '2026-01-01T00:00:00.000Z',
  lastRun: { id: 'e1', status: 'failed', createdAt: '2026-01-01T00:00:00.000Z' },
  nextFireAt: '2030-01-01T01:00:00.000Z',
  ...over,
});

describe('AutomationList', () => {
  it('lists automations with their last run and next tick, and searches', async () => {
    const calls = recordRequests();
    server.use(
      http.get('/api/v1/automations', ({ request }) =>
        HttpResponse.json({
          items: new URL(request.url).searchParams.get('search')
            ? [summary({ id: 'a2', name: 'Sync', lastRun: null, nextFireAt: null })]
            : [summary({})],
          nextCursor: null,
        }),
      ),
    );
    await renderWithApp(<AutomationList />);
    const link = await screen.findByRole('link', { name: 'Nightly report' });
    expect(link.getAttribute('href')).toBe('/automations/a1');
    expect(screen.getByText(/failed/i)).toBeTruthy();
    expect(screen.getByText(/^Next:/)).toBeTruthy();
    await userEvent.type(screen.getByLabelText('Search automations'), 'sy');
    expect(await screen.findByRole('link', { name: 'Sync' })).toBeTruthy();
    expect(screen.getByText('Never run')).toBeTruthy();
    expect(screen.getByText('Not scheduled')).toBeTruthy();
    expect(calls.some((c) => c.path.includes('search=sy'))).toBe(true);
  });

  it('speaks Traditional Chinese', async () => {
    server.use(http.get('/api/v1/automations', () => HttpResponse.json({ items: [], nextCursor: null })));
    await renderWithApp(<AutomationList />, { language: 'zh-TW' });
    expect(await screen.findByText('尚無已儲存的自動化。')).toBeTruthy();
    expect(screen.getByRole('button', { name: '新增自動化' })).toBeTruthy();
  });

  it('creates an automation and opens it', async () => {
    const calls = recordRequests();
    server.use(
      http.post('/api/v1/automations', () => HttpResponse.json(summary({ id: 'new1' }), { status: 201 })),
      http.get('/api/v1/automations', () => HttpResponse.json({ items: [], nextCursor: null })),
    );
    await renderWithApp(<AutomationList />);
    await userEvent.click(await screen.findByRole('button', { name: 'New automation' }));
    await waitFor(() =>
      expect(calls.some((c) => c.method === 'POST' && c.path === '/api/v1/automations')).toBe(true),
    );
  });
});
