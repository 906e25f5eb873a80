import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { HttpResponse, http } from 'msw';
import { describe, expect, it } from 'vitest';
import { renderWithApp } from '../../../testing/render';
import { recordRequests, server } from '../../../testing/server';
import { AdminPage } from '../index';

const at = '2026-05-01T10:00:00Z';
const mei = { id: 'u2', name: 'Mei', isAdmin: false, createdAt: at };

/** The parts of the page a test is not about: an empty audit log, sign-in list and allowlist. */
const otherSections = () => [
  http.get('/api/v1/admin/audit', () => HttpResponse.json({ items: [], nextCursor: null })),
  http.get('/api/v1/admin/users/:id/signins', () => HttpResponse.json({ items: [] })),
  http.get('/api/v1/admin/users/:id/egress', () => HttpResponse.json({ rules: null, installation: [] })),
];

describe('AdminPage', () => {
  it('creates a user and shows the new token once', async () => {
    let users = [{ id: 'u1', name: 'admin', isAdmin: true, createdAt: at }];
    const calls = recordRequests();
    server.use(
      http.get('/api/v1/admin/users', () => HttpResponse.json({ items: users, nextCursor: null })),
      http.post('/api/v1/admin/users', () => {
        users = [...users, mei];
        return HttpResponse.json({ user: mei, token: `ipa_${'t'.repeat(43)}` }, { status: 201 });
      }),
      ...otherSections(),
    );
    await renderWithApp(<AdminPage />);
    await screen.findByText('admin', { selector: 'button *, button' });
    await userEvent.click(screen.getByRole('button', { name: 'Create user' }));
    const dialog = await screen.findByRole('dialog');
    await userEvent.type(within(dialog).getByLabelText('Name'), 'Mei');
    await userEvent.click(within(dialog).getByRole('button', { name: 'Create' }));
    expect((await within(dialog).findByTestId('new-token')).textContent).toBe(`ipa_${'t'.repeat(43)}`);
    expect(within(dialog).getByText('Copy this token now. It will not be shown again.')).toBeTruthy();
    expect(calls.find((call) => call.method === 'POST')?.body).toEqual({ name: 'Mei', isAdmin: false });
    await userEvent.click(within(dialog).getByRole('button', { name: 'Done' }));
    await waitFor(() => expect(screen.queryByTestId('new-token')).toBeNull());
    expect(await screen.findByRole('button', { name: 'Mei' })).toBeTruthy();
  });

  it('revokes a token only after confirming, and stops showing a just-issued token once it is revoked', async () => {
    let revoked: string | null = null;
    const token = {
      id: 't1',
      userId: 'u2',
      name: 'laptop',
      prefix: 'ipa_AbC1',
      createdAt: at,
      lastUsedAt: null,
      revokedAt: null,
      expiresAt: null,
      kind: 'api',
      device: null,
    };
    const calls = recordRequests();
    server.use(
      http.get('/api/v1/admin/users', () => HttpResponse.json({ items: [mei], nextCursor: null })),
      http.get('/api/v1/admin/users/u2/tokens', () =>
        HttpResponse.json({ items: [{ ...token, revokedAt: revoked }] }),
      ),
      http.post('/api/v1/admin/users/u2/tokens', () =>
        HttpResponse.json({ token: `ipa_${'n'.repeat(43)}`, info: token }, { status: 201 }),
      ),
      http.get('/api/v1/admin/users/u2/signins', () => HttpResponse.json({ items: [] })),
      http.delete('/api/v1/admin/users/u2/tokens/t1', () => {
        revoked = at;
        return new HttpResponse(null, { status: 204 });
      }),
      ...otherSections(),
    );
    await renderWithApp(<AdminPage />);
    await userEvent.click(await screen.findByRole('button', { name: 'Mei' }));
    await userEvent.type(await screen.findByLabelText('Token name'), 'laptop');
    await userEvent.click(screen.getByRole('button', { name: 'Issue token' }));
    expect(await screen.findByTestId('new-token')).toBeTruthy();
    await userEvent.click(await screen.findByRole('button', { name: 'Revoke token laptop' }));
    // Nothing is revoked until the dialog is confirmed.
    const dialog = await screen.findByRole('dialog');
    expect(calls.some((call) => call.method === 'DELETE')).toBe(false);
    await userEvent.click(within(dialog).getByRole('button', { name: 'Revoke' }));
    expect(await screen.findByText('revoked')).toBeTruthy();
    await waitFor(() => expect(screen.queryByTestId('new-token')).toBeNull());
  });

  it('lists browser sign-ins apart from tokens, by device and last use', async () => {
    const signin = {
      id: 's1',
      userId: 'u2',
      name: 'browser sign-in',
      prefix: 'ipa_XyZ9',
      createdAt: at,
      lastUsedAt: at,
      revokedAt: null,
      expiresAt: '2026-05-31T10:00:00Z',
      kind: 'signin',
      device: 'Firefox on Linux',
    };
    server.use(
      http.get('/api/v1/admin/users', () => HttpResponse.json({ items: [mei], nextCursor: null })),
      http.get('/api/v1/admin/users/u2/tokens', () => HttpResponse.json({ items: [] })),
      http.get('/api/v1/admin/users/u2/signins', () => HttpResponse.json({ items: [signin] })),
      ...otherSections(),
    );
    await renderWithApp(<AdminPage />);
    await userEvent.click(await screen.findByRole('button', { name: 'Mei' }));
    expect(await screen.findByText('Firefox on Linux')).toBeTruthy();
    expect(screen.getByText('No tokens.', { exact: false })).toBeTruthy();
    expect(screen.getByRole('button', { name: 'Sign out Firefox on Linux' })).toBeTruthy();
  });

  it('shows an expired sign-in session as expired, with nothing to revoke', async () => {
    const session = {
      id: 't2',
      userId: 'u2',
      name: 'browser session',
      prefix: 'ipa_XyZ9',
      createdAt: at,
      lastUsedAt: at,
      revokedAt: null,
      expiresAt: '2026-05-31T10:00:00Z',
    };
    server.use(
      http.get('/api/v1/admin/users', () => HttpResponse.json({ items: [mei], nextCursor: null })),
      http.get('/api/v1/admin/users/u2/tokens', () => HttpResponse.json({ items: [session] })),
      ...otherSections(),
    );
    await renderWithApp(<AdminPage />);
    await userEvent.click(await screen.findByRole('button', { name: 'Mei' }));
    expect(await screen.findByText('expired')).toBeTruthy();
    expect(screen.queryByRole('button', { name: 'Revoke token browser session' })).toBeNull();
  });

  it('shows the audit log newest first, naming the actor, and loads older entries on demand', async () => {
    const entry = (id: string, action: string, actorId: string | null, target: string | null) => ({
      id,
      actorId,
      action,
      target,
      details: {},
      at,
    });
    const calls = recordRequests();
    server.use(
      http.get('/api/v1/admin/users', () => HttpResponse.json({ items: [mei], nextCursor: null })),
      http.get('/api/v1/admin/audit', ({ request }) =>
        new URL(request.url).searchParams.get('cursor') === 'c1'
          ? HttpResponse.json({ items: [entry('a3', 'system.start', null, null)], nextCursor: null })
          : HttpResponse.json({
              items: [
                { ...entry('a1', 'token.revoke', 'u2', 't1'), details: { userId: 'u2', name: 'laptop' } },
                entry('a2', 'auth.login', '0000-u9zzzzzzzz', null),
              ],
              nextCursor: 'c1',
            }),
      ),
      ...otherSections(),
    );
    await renderWithApp(<AdminPage />);
    const section = (await screen.findByRole('heading', { name: 'Audit log' })).closest('section')!;
    const rows = await within(section).findAllByRole('row');
    expect(rows.map((row) => row.textContent)).toEqual([
      'TimeByActionTarget',
      expect.stringContaining('MeiToken revokedtoken “laptop” of Mei'),
      expect.stringContaining('zzzzzzzzSigned in—'),
    ]);
    await userEvent.click(within(section).getByRole('button', { name: 'Load more' }));
    expect(await within(section).findByText('system.start')).toBeTruthy();
    expect(within(section).getByText('system')).toBeTruthy();
    expect(calls.some((call) => call.path === '/api/v1/admin/audit?limit=25&cursor=c1')).toBe(true);
  });
});
