import { screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { HttpResponse, http } from 'msw';
import { describe, expect, it } from 'vitest';
import { renderWithApp } from '../../../testing/render';
import { server } from '../../../testing/server';
import type { Automation } from '../api/saved';
import { WebhooksPanel } from './WebhooksPanel';

const automation = { id: 'a1', version: 1 } as Automation;
const trigger = {
  id: 't1',
  automationId: 'a1',
  name: 'webhook',
  enabled: true,
  path: '/hooks/t1',
  createdAt: '2026-01-01T00:00:00.000Z',
  rotatedAt: null,
};

describe('WebhooksPanel', () => {
  it('shows the secret once after creation and rotation, the URL and a signing curl example', async () => {
    let listed: unknown[] = [];
    server.use(
      http.get('/api/v1/automations/a1/webhooks', () => HttpResponse.json({ items: listed })),
      http.post('/api/v1/automations/a1/webhooks', () => {
        listed = [trigger];
        return HttpResponse.json({ trigger, secret: 'whsec_first' }, { status: 201 });
      }),
      http.post('/api/v1/automations/a1/webhooks/t1/rotate', () =>
        HttpResponse.json({ trigger, secret: 'whsec_rotated' }),
      ),
    );
    await renderWithApp(<WebhooksPanel automation={automation} />);
    await userEvent.click(await screen.findByRole('button', { name: 'Add webhook' }));
    expect((await screen.findByTestId('webhook-secret')).textContent).toContain('whsec_first');
    expect(screen.getByText(`${window.location.origin}/hooks/t1`)).toBeTruthy();
    expect(screen.getByTestId('curl-example').textContent).toContain('x-ipa-signature: t=$t,v1=$sig');
    await userEvent.click(screen.getByRole('button', { name: 'Rotate secret' }));
    expect(await screen.findByText('whsec_rotated')).toBeTruthy();
  });
});
