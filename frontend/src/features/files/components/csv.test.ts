import { describe, expect, it } from 'vitest';
import { parseCsv, previewKind } from '../index';

describe('parseCsv', () => {
  it('handles quotes, doubled quotes, commas and CRLF', () => {
    expect(parseCsv('name,note\r\n"Lin, Mei","said ""hi"""\r\n台北,ok\n')).toEqual([
      ['name', 'note'],
      ['Lin, Mei', 'said "hi"'],
      ['台北', 'ok'],
    ]);
  });
  it('stops at the row limit and keeps a last line without newline', () => {
    expect(parseCsv('a\nb\nc', 2)).toEqual([['a'], ['b']]);
    expect(parseCsv('a,b')).toEqual([['a', 'b']]);
  });
});

describe('previewKind', () => {
  it('picks the preview by extension', () => {
    expect(previewKind('outputs/report.CSV')).toBe('csv');
    expect(previewKind('uploads/pic.png')).toBe('image');
    expect(previewKind('workspace/data.json')).toBe('json');
    expect(previewKind('workspace/notes.md')).toBe('text');
    expect(previewKind('uploads/archive.zip')).toBeNull();
  });
});
