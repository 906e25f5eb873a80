import { screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { HttpResponse, http } from 'msw';
import { describe, expect, it } from 'vitest';
import type { Session } from '../../../lib';
import { renderWithApp } from '../../../testing/render';
import { recordRequests, server } from '../../../testing/server';
import { SessionList } from './SessionList';

const session = (id: string, title: string): Session => ({
  id,
  userId: 'u1',
  title,
  createdAt: '2026-05-01T10:00:00Z',
  updatedAt: '2026-05-01T10:00:00Z',
});

describe('SessionList search', () => {
  it('asks the API for matching sessions, pages through them and says when none match', async () => {
    const calls = recordRequests();
    server.use(
      http.get('/api/v1/sessions', ({ request }) => {
        const query = new URL(request.url).searchParams;
        const q = query.get('q');
        if (q === null)
          return HttpResponse.json({
            items: [session('s1', 'May sales'), session('s2', 'Holiday')],
            nextCursor: null,
          });
        if (q === 'sales' && !query.get('cursor'))
          return HttpResponse.json({ items: [session('s4', 'June sales')], nextCursor: 'c1' });
        if (q === 'sales')
          return HttpResponse.json({ items: [session('s3', 'Old sales')], nextCursor: null });
        return HttpResponse.json({ items: [], nextCursor: null });
      }),
    );
    await renderWithApp(<SessionList activeId={undefined} />);
    expect(await screen.findByText('Holiday')).toBeTruthy();

    const search = screen.getByRole('searchbox', { name: 'Search sessions' });
    await userEvent.type(search, 'sales');
    expect(await screen.findByText('June sales')).toBeTruthy();
    expect(screen.queryByText('Holiday')).toBeNull();
    // One request for the settled text, not one per keystroke.
    const searches = calls.filter((call) => call.path.includes('q='));
    expect(searches.map((call) => new URL(call.path, 'http://x').searchParams.get('q'))).toEqual(['sales']);

    await userEvent.click(screen.getByRole('button', { name: 'Load more' }));
    expect(await screen.findByText('Old sales')).toBeTruthy();
    expect(calls.some((call) => call.path.includes('q=sales') && call.path.includes('cursor=c1'))).toBe(true);

    await userEvent.clear(search);
    await userEvent.type(search, 'zebra');
    expect(await screen.findByText('No sessions match “zebra”')).toBeTruthy();

    await userEvent.clear(search);
    expect(await screen.findByText('Holiday')).toBeTruthy();
  });

  it('labels the search in Traditional Chinese', async () => {
    server.use(http.get('/api/v1/sessions', () => HttpResponse.json({ items: [], nextCursor: null })));
    await renderWithApp(<SessionList activeId={undefined} />, { language: 'zh-TW' });
    expect(await screen.findByRole('searchbox', { name: '搜尋對話' })).toBeTruthy();
  });
});
