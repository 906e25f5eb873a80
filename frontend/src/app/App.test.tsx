import { render, screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { HttpResponse, http } from 'msw';
import { describe, expect, it } from 'vitest';
import { testI18n } from '../testing/render';
import { server } from '../testing/server';
import { App } from './App';

const user = { id: 'u1', name: 'Mei', isAdmin: false, createdAt: '2026-01-01T00:00:00Z' };
const me = {
  user,
  quota: { usedBytes: 0, limitBytes: 1 },
  platform: { isolation: 'process', languages: ['javascript'], version: '1' },
};

describe('App', () => {
  it('shows the sign-in form, then the app after signing in, then the form again after signing out', async () => {
    let signedIn = false;
    server.use(
      http.get('/api/v1/me', () =>
        signedIn
          ? HttpResponse.json(me)
          : HttpResponse.json({ error: { code: 'unauthorized', message: 'no' } }, { status: 401 }),
      ),
      http.post('/api/v1/auth/login', () => {
        signedIn = true;
        return HttpResponse.json({ user });
      }),
      http.post('/api/v1/auth/logout', () => {
        signedIn = false;
        return new HttpResponse(null, { status: 204 });
      }),
      http.get('/api/v1/sessions', () => HttpResponse.json({ items: [], nextCursor: null })),
    );
    render(<App i18n={await testI18n()} />);
    await userEvent.type(await screen.findByLabelText('API token'), `ipa_${'b'.repeat(43)}`);
    await userEvent.click(screen.getByRole('button', { name: 'Sign in' }));
    expect(await screen.findByRole('navigation', { name: 'Main navigation' })).toBeTruthy();
    expect(await screen.findByText('No sessions yet')).toBeTruthy();
    expect(window.location.pathname).toBe('/chat');
    // Focus lands in the page, not on <body>, once the form is gone.
    await waitFor(() => expect(document.activeElement?.id).toBe('main'));
    expect(screen.queryByRole('link', { name: 'Operations' })).toBeNull();
    await userEvent.click(screen.getByRole('button', { name: 'Sign out' }));
    expect(await screen.findByLabelText('API token')).toBeTruthy();
  });

  it('tells an administrator when scripts run at process level, with the command that installs bubblewrap', async () => {
    server.use(
      http.get('/api/v1/me', () =>
        HttpResponse.json({
          ...me,
          user: { ...user, isAdmin: true },
          platform: { ...me.platform, modelConfigured: true },
        }),
      ),
      http.get('/api/v1/sessions', () => HttpResponse.json({ items: [], nextCursor: null })),
    );
    window.history.pushState({}, '', '/chat');
    render(<App i18n={await testI18n()} />);
    const note = await screen.findByRole('note');
    expect(note.textContent).toContain('“process” isolation level');
    expect(note.textContent).toContain('sudo apt-get install bubblewrap');
    await userEvent.click(screen.getByRole('button', { name: 'Dismiss' }));
    expect(screen.queryByRole('note')).toBeNull();
    localStorage.clear();
  });
});
