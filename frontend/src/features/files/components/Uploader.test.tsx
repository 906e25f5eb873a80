import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { renderWithApp } from '../../../testing/render';
import { answerUploads } from '../../../testing/server';
import { freeName, Uploader } from './Uploader';

const at = '2026-05-01T10:00:00Z';
const listing = {
  items: [{ path: 'uploads/sales.csv', size: 10, modifiedAt: at }],
  usedBytes: 10,
  limitBytes: 1_000_000,
  maxUploadBytes: 1_000,
};

describe('Uploader', () => {
  it('refuses a file over the limit before sending a byte, and says what the limit is', async () => {
    const sent = answerUploads();
    await renderWithApp(<Uploader listing={listing as never} />);
    expect(screen.getByText(/^Up to .+ per upload\.$/)).toBeTruthy();
    await userEvent.upload(screen.getByLabelText('Choose files'), new File(['x'.repeat(2_000)], 'big.bin'));
    expect((await screen.findByRole('alert')).textContent).toMatch(
      /“big\.bin” is larger than the upload limit/,
    );
    expect(sent).toEqual([]);
  });

  it('asks before replacing a file of the same name, and keeps both under a numbered name', async () => {
    const sent = answerUploads();
    await renderWithApp(<Uploader listing={listing as never} />);
    await userEvent.upload(screen.getByLabelText('Choose files'), new File(['a,b'], 'sales.csv'));
    const dialog = await screen.findByRole('dialog');
    expect(sent).toEqual([]);
    await userEvent.click(within(dialog).getByRole('button', { name: 'Keep both' }));
    await waitFor(() => expect(sent).toHaveLength(1));
    expect((sent[0]!.get('file') as File).name).toBe('sales (1).csv');
  });

  it('numbers names until one is free', () => {
    expect(freeName('a.csv', new Set(['a.csv', 'a (1).csv']))).toBe('a (2).csv');
    expect(freeName('README', new Set(['README']))).toBe('README (1)');
    expect(freeName('new.txt', new Set(['a.csv']))).toBe('new.txt');
  });
});
