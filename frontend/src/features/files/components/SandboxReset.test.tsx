import { screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { HttpResponse, http } from 'msw';
import { describe, expect, it } from 'vitest';
import { renderWithApp } from '../../../testing/render';
import { recordRequests, server } from '../../../testing/server';
import { SandboxReset } from './SandboxReset';

describe('SandboxReset', () => {
  it('asks first, and a cancel sends nothing', async () => {
    const calls = recordRequests();
    await renderWithApp(<SandboxReset />);
    await userEvent.click(screen.getByRole('button', { name: 'Reset sandbox…' }));
    expect(await screen.findByText(/Your stored files are kept\./)).toBeTruthy();
    await userEvent.click(screen.getByRole('button', { name: 'Cancel' }));
    expect(calls).toEqual([]);
  });

  it('resets on confirmation and says the stored files stay', async () => {
    const calls = recordRequests();
    server.use(http.post('/api/v1/me/sandbox/reset', () => HttpResponse.json({ generation: 1 })));
    await renderWithApp(<SandboxReset />);
    await userEvent.click(screen.getByRole('button', { name: 'Reset sandbox…' }));
    await userEvent.click(await screen.findByRole('button', { name: 'Reset' }));
    expect((await screen.findByRole('status')).textContent).toMatch(/next run starts from your stored files/);
    expect(calls).toEqual([{ method: 'POST', path: '/api/v1/me/sandbox/reset', body: {} }]);
  });

  it('shows the error and keeps the dialog open when the reset fails', async () => {
    server.use(
      http.post('/api/v1/me/sandbox/reset', () =>
        HttpResponse.json(
          { error: { code: 'unavailable', message: 'The database is unavailable.' } },
          { status: 503 },
        ),
      ),
    );
    await renderWithApp(<SandboxReset />);
    await userEvent.click(screen.getByRole('button', { name: 'Reset sandbox…' }));
    await userEvent.click(await screen.findByRole('button', { name: 'Reset' }));
    await waitFor(() => expect(screen.getByRole('alert')).toBeTruthy());
    expect(screen.getByRole('button', { name: 'Reset' })).toBeTruthy();
  });
});
