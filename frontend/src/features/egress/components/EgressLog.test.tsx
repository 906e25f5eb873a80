import { fireEvent, screen, waitFor } from '@testing-library/react';
import { HttpResponse, http } from 'msw';
import { describe, expect, it } from 'vitest';
import { renderWithApp } from '../../../testing/render';
import { recordRequests, server } from '../../../testing/server';
import { AllowlistEditor } from './AllowlistEditor';
import { EgressLog } from './EgressLog';

describe('EgressLog', () => {
  it("shows a run's requests with the reason of a refusal", async () => {
    server.use(
      http.get('/api/v1/executions/e1/egress', () =>
        HttpResponse.json({
          items: [
            {
              id: 'r1',
              host: 'evil.example.com',
              port: 443,
              method: 'CONNECT',
              status: 403,
              bytesSent: 0,
              bytesReceived: 0,
              durationMs: 2,
              outcome: 'refused',
              reason: 'evil.example.com:443 is not allowed by the installation: add it to EGRESS_ALLOW',
              at: '2026-01-01T00:00:00.000Z',
            },
          ],
        }),
      ),
    );
    await renderWithApp(<EgressLog executionId="e1" />);
    expect(await screen.findByText('evil.example.com:443')).toBeTruthy();
    expect(screen.getByText('refused')).toBeTruthy();
    expect(screen.getByText(/add it to EGRESS_ALLOW/)).toBeTruthy();
  });
});

describe('AllowlistEditor', () => {
  it('narrows a user and can stop narrowing', async () => {
    const calls = recordRequests();
    server.use(
      http.get('/api/v1/admin/users/u2/egress', () =>
        HttpResponse.json({ rules: null, installation: ['api.example.com'] }),
      ),
      http.put('/api/v1/admin/users/u2/egress', async ({ request }) => {
        const { rules } = (await request.json()) as { rules: string[] | null };
        return HttpResponse.json({ rules, installation: ['api.example.com'] });
      }),
    );
    await renderWithApp(<AllowlistEditor target={{ userId: 'u2' }} />);
    expect(await screen.findByText(/Not narrowed/)).toBeTruthy();
    fireEvent.change(screen.getByRole('textbox'), { target: { value: 'api.example.com\n' } });
    fireEvent.click(screen.getByRole('button', { name: 'Save allowlist' }));
    await waitFor(() => expect(screen.getByText(/Narrowed to the hosts below/)).toBeTruthy());
    expect(calls.find((c) => c.method === 'PUT')?.body).toEqual({ rules: ['api.example.com'] });
    fireEvent.click(screen.getByRole('button', { name: 'Do not narrow' }));
    await waitFor(() =>
      expect(calls.filter((c) => c.method === 'PUT').at(-1)?.body).toEqual({ rules: null }),
    );
  });
});
