import { screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { HttpResponse, http } from 'msw';
import { describe, expect, it } from 'vitest';
import { renderWithApp } from '../../../testing/render';
import { recordRequests, server } from '../../../testing/server';
import { meQueryKey, SignInPage } from '../index';

const goodToken = `ipa_${'A'.repeat(43)}`;
const refused = () =>
  HttpResponse.json(
    { error: { code: 'unauthorized', message: 'unknown or revoked token' } },
    { status: 401 },
  );

describe('SignInPage', () => {
  it('refuses something that is not a token without asking the server', async () => {
    const calls = recordRequests();
    await renderWithApp(<SignInPage />);
    await userEvent.type(screen.getByLabelText('API token'), 'hello');
    await userEvent.click(screen.getByRole('button', { name: 'Sign in' }));
    expect((await screen.findByRole('alert')).textContent).toMatch(/does not look like a token/);
    expect(calls).toEqual([]);
  });

  it('accepts an admin token that is not in the ipa_ format (any IPA_ADMIN_TOKEN of 24+ characters)', async () => {
    const calls = recordRequests();
    server.use(http.post('/api/v1/auth/login', refused));
    await renderWithApp(<SignInPage />);
    const adminToken = 'my-own-admin-secret-0123456789';
    await userEvent.type(screen.getByLabelText('API token'), adminToken);
    await userEvent.click(screen.getByRole('button', { name: 'Sign in' }));
    await waitFor(() =>
      expect(calls).toEqual([{ method: 'POST', path: '/api/v1/auth/login', body: { token: adminToken } }]),
    );
  });

  it('says so when the token is wrong or revoked', async () => {
    server.use(http.post('/api/v1/auth/login', refused));
    await renderWithApp(<SignInPage />);
    await userEvent.type(screen.getByLabelText('API token'), goodToken);
    await userEvent.click(screen.getByRole('button', { name: 'Sign in' }));
    expect((await screen.findByRole('alert')).textContent).toBe(
      'This token is not valid or has been revoked.',
    );
  });

  it('exchanges the token for the cookie and loads the user', async () => {
    const user = { id: 'u1', name: 'Mei', isAdmin: false, createdAt: '2026-01-01T00:00:00Z' };
    const calls = recordRequests();
    server.use(
      http.post('/api/v1/auth/login', () => HttpResponse.json({ user })),
      http.get('/api/v1/me', () =>
        HttpResponse.json({
          user,
          quota: { usedBytes: 0, limitBytes: 1 },
          platform: { isolation: 'process', languages: [], version: '1' },
        }),
      ),
    );
    const { queryClient } = await renderWithApp(<SignInPage />);
    await userEvent.type(screen.getByLabelText('API token'), `  ${goodToken} `);
    await userEvent.click(screen.getByRole('button', { name: 'Sign in' }));
    await waitFor(() =>
      expect(queryClient.getQueryData(meQueryKey)).toMatchObject({ user: { name: 'Mei' } }),
    );
    expect(calls[0]).toEqual({ method: 'POST', path: '/api/v1/auth/login', body: { token: goodToken } });
  });
});
