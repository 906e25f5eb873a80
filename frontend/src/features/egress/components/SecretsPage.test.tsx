import { fireEvent, screen, waitFor } from '@testing-library/react';
import { HttpResponse, http } from 'msw';
import { describe, expect, it } from 'vitest';
import { renderWithApp } from '../../../testing/render';
import { recordRequests, server } from '../../../testing/server';
import { SecretsPage } from './SecretsPage';

const me = (enforced: boolean) => ({
  user: { id: 'u1', name: 'alice', isAdmin: false, createdAt: '2026-01-01T00:00:00.000Z' },
  quota: { usedBytes: 0, limitBytes: 1 },
  platform: {
    isolation: enforced ? 'bwrap' : 'process',
    languages: ['javascript'],
    version: '1',
    egress: { enforced, allow: [], note: '' },
  },
});
const secret = {
  name: 'API_TOKEN',
  hosts: ['api.example.com'],
  delivery: { header: 'Authorization', template: 'Bearer {value}' },
  createdAt: '2026-01-01T00:00:00.000Z',
  updatedAt: '2026-01-01T00:00:00.000Z',
};

describe('SecretsPage', () => {
  it('lists secrets with their values masked and says when egress is not enforced', async () => {
    server.use(
      http.get('/api/v1/me', () => HttpResponse.json(me(false))),
      http.get('/api/v1/secrets', () => HttpResponse.json({ enabled: true, secrets: [secret] })),
    );
    await renderWithApp(<SecretsPage />);
    expect(await screen.findByText('API_TOKEN')).toBeTruthy();
    expect(screen.getByLabelText('Hidden value').textContent).toBe('••••••••');
    expect(screen.getByText('Authorization: Bearer {value}')).toBeTruthy();
    expect((await screen.findByRole('alert')).textContent).toMatch(/cannot be enforced/);
  });

  it('creates a secret: the value is sent once and the field is a password field', async () => {
    const calls = recordRequests();
    server.use(
      http.get('/api/v1/me', () => HttpResponse.json(me(true))),
      http.get('/api/v1/secrets', () => HttpResponse.json({ enabled: true, secrets: [] })),
      http.put('/api/v1/secrets/NEW_ONE', () => HttpResponse.json(secret, { status: 201 })),
    );
    await renderWithApp(<SecretsPage />);
    fireEvent.click(await screen.findByRole('button', { name: 'New secret' }));
    fireEvent.change(screen.getByLabelText('Name'), { target: { value: 'NEW_ONE' } });
    const value = screen.getByLabelText('Value') as HTMLInputElement;
    expect(value.type).toBe('password');
    fireEvent.change(value, { target: { value: 's3cret' } });
    fireEvent.change(screen.getByLabelText('Bound hosts (comma-separated)'), {
      target: { value: 'a.example.com, b.example.com' },
    });
    fireEvent.click(screen.getByRole('button', { name: 'Save' }));
    await waitFor(() => expect(calls.some((c) => c.method === 'PUT')).toBe(true));
    expect(calls.find((c) => c.method === 'PUT')?.body).toEqual({
      value: 's3cret',
      hosts: ['a.example.com', 'b.example.com'],
      delivery: { header: 'Authorization', template: 'Bearer {value}' },
    });
    expect(screen.queryByAltText('s3cret')).toBeNull();
    expect(document.body.textContent).not.toContain('s3cret');
  });

  it('speaks Traditional Chinese', async () => {
    server.use(
      http.get('/api/v1/me', () => HttpResponse.json(me(true))),
      http.get('/api/v1/secrets', () => HttpResponse.json({ enabled: true, secrets: [] })),
    );
    await renderWithApp(<SecretsPage />, { language: 'zh-TW' });
    expect(await screen.findByText('尚無機密。')).toBeTruthy();
    expect(screen.getByRole('heading', { name: '機密' })).toBeTruthy();
  });
});
