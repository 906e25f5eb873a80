import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { HttpResponse, http } from 'msw';
import { describe, expect, it } from 'vitest';
import type { StoredFile } from '../../../lib';
import { renderWithApp } from '../../../testing/render';
import { recordRequests, server } from '../../../testing/server';
import { FilesPage } from './FilesPage';

const file = (path: string, size: number): StoredFile => ({
  userId: 'u1',
  path,
  size,
  sha256: `sha-${path}`,
  updatedAt: '2026-05-01T10:00:00Z',
});

const listing = (items: StoredFile[]) => ({
  items,
  usedBytes: items.reduce((sum, f) => sum + f.size, 0),
  limitBytes: 1024 * 1024,
});

describe('FilesPage', () => {
  it('shows each root folder with its tree, the quota, and "Empty" for an empty root', async () => {
    server.use(
      http.get('/api/v1/files', () =>
        HttpResponse.json(listing([file('uploads/data/a.csv', 2048), file('outputs/report.md', 10)])),
      ),
    );
    await renderWithApp(<FilesPage />);
    expect(await screen.findByRole('button', { name: 'Preview uploads/data/a.csv' })).toBeTruthy();
    expect(screen.getByRole('button', { name: 'Preview outputs/report.md' })).toBeTruthy();
    expect(screen.getByText('data/')).toBeTruthy();
    expect(screen.getByRole('heading', { name: 'workspace/' }).closest('.root')?.textContent).toContain(
      'Empty',
    );
    expect(screen.getByRole('progressbar', { name: 'Storage' })).toBeTruthy();
    expect(screen.queryByText('No files yet')).toBeNull();
  });

  it('asks before deleting, then deletes and lists the files again', async () => {
    let items = [file('uploads/a.txt', 5), file('uploads/b.txt', 7)];
    const calls = recordRequests();
    server.use(
      http.delete('/api/v1/files/uploads/a.txt', () => {
        items = items.filter((f) => f.path !== 'uploads/a.txt');
        return new HttpResponse(null, { status: 204 });
      }),
      http.get('/api/v1/files', () => HttpResponse.json(listing(items))),
    );
    await renderWithApp(<FilesPage />);
    await userEvent.click(await screen.findByRole('button', { name: 'Delete uploads/a.txt' }));
    const dialog = await screen.findByRole('dialog');
    expect(within(dialog).getByText('uploads/a.txt will be deleted.')).toBeTruthy();
    await userEvent.click(within(dialog).getByRole('button', { name: 'Delete' }));
    await waitFor(() => expect(screen.queryByRole('button', { name: 'Preview uploads/a.txt' })).toBeNull());
    expect(screen.getByRole('button', { name: 'Preview uploads/b.txt' })).toBeTruthy();
    expect(calls.filter((c) => c.method === 'DELETE')).toEqual([
      { method: 'DELETE', path: '/api/v1/files/uploads/a.txt', body: undefined },
    ]);
  });

  it('says so when there are no files, and shows a listing failure with a retry', async () => {
    let fail = true;
    server.use(
      http.get('/api/v1/files', () =>
        fail
          ? HttpResponse.json(
              { error: { code: 'unavailable', message: 'The database is unavailable.' } },
              { status: 503 },
            )
          : HttpResponse.json(listing([])),
      ),
    );
    await renderWithApp(<FilesPage />);
    const retry = await screen.findByRole('button', { name: 'Try again' });
    expect(screen.queryByText('No files yet')).toBeNull();
    fail = false;
    await userEvent.click(retry);
    expect(await screen.findByText('No files yet')).toBeTruthy();
  });
});
