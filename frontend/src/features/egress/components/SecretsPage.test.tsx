import { fireEvent, screen, waitFor } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { json, mockFetch, renderWithApp } from '../../../testing/render';
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

afterEach(() => vi.unstubAllGlobals());

describe('SecretsPage', () => {
  it('lists secrets with their values masked and says when egress is not enforced', async () => {
    mockFetch([
      ({ url }) => (url.pathname === '/api/v1/me' ? json(200, me(false)) : undefined),
      ({ url }) =>
        url.pathname === '/api/v1/secrets' ? json(200, { enabled: true, secrets: [secret] }) : undefined,
    ]);
    await renderWithApp(<SecretsPage />);
    expect(await screen.findByText('API_TOKEN')).toBeTruthy();
    expect(screen.getByLabelText('Hidden value').textContent).toBe('••••••••');
    expect(screen.getByText('Authorization: Bearer {value}')).toBeTruthy();
    expect((await screen.findByRole('alert')).textContent).toMatch(/cannot be enforced/);
  });

  it('creates a secret: the value is sent once and the field is a password field', async () => {
    const calls = mockFetch([
      ({ url }) => (url.pathname === '/api/v1/me' ? json(200, me(true)) : undefined),
      ({ url, method }) =>
        url.pathname === '/api/v1/secrets' && method === 'GET'
          ? json(200, { enabled: true, secrets: [] })
          : undefined,
      ({ url, method }) =>
        url.pathname === '/api/v1/secrets/NEW_ONE' && method === 'PUT' ? json(201, secret) : undefined,
    ]);
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
    mockFetch([
      ({ url }) => (url.pathname === '/api/v1/me' ? json(200, me(true)) : undefined),
      ({ url }) =>
        url.pathname === '/api/v1/secrets' ? json(200, { enabled: true, secrets: [] }) : undefined,
    ]);
    await renderWithApp(<SecretsPage />, { language: 'zh-TW' });
    expect(await screen.findByText('尚無機密。')).toBeTruthy();
    expect(screen.getByRole('heading', { name: '機密' })).toBeTruthy();
  });
});
