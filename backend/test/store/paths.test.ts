import { describe, expect, it } from 'vitest';
import { InvalidPathError, normalizeFilePath, topLevelFolders } from '../../src/store/index.js';

describe('normalizeFilePath', () => {
  it.each([
    ['uploads/a.csv', 'uploads/a.csv'],
    ['workspace/src/main.ts', 'workspace/src/main.ts'],
    ['outputs/report.pdf', 'outputs/report.pdf'],
    ['uploads//a.csv', 'uploads/a.csv'],
    ['uploads/dir/', 'uploads/dir'],
    ['uploads/..hidden', 'uploads/..hidden'],
    ['uploads/.env', 'uploads/.env'],
    ['uploads/na me with spaces.txt', 'uploads/na me with spaces.txt'],
    ['uploads/\u00e9t\u00e9 \u{1F600}.txt', 'uploads/\u00e9t\u00e9 \u{1F600}.txt'],
  ])('accepts %j as %j', (input, expected) => {
    expect(normalizeFilePath(input)).toBe(expected);
  });

  it.each([
    ['', /empty/],
    ['../etc/passwd', /'\.'/],
    ['uploads/../../etc/passwd', /'\.'/],
    ['uploads/./a', /'\.'/],
    ['uploads/a/..', /'\.'/],
    ['/etc/passwd', /absolute/],
    ['/uploads/a', /absolute/],
    ['\\uploads\\a', /absolute/],
    ['uploads\\..\\a', /backslash/],
    ['uploads/a\u0000b', /control/],
    ['uploads/line\nbreak', /control/],
    ['uploads/tab\there', /control/],
    ['uploads/del\u007f', /control/],
    ['tmp/a.txt', /must start with/],
    ['Uploads/a.txt', /must start with/],
    ['uploadsX/a.txt', /must start with/],
    ['home/user/a.txt', /must start with/],
    [`uploads/${'a'.repeat(256)}`, /segment is too long/],
    [`uploads/${'abc/'.repeat(300)}x`, /longer than 1024/],
    ['uploads', /names a folder/],
    ['uploads/', /names a folder/],
  ])('refuses %j', (input, reason) => {
    expect(() => normalizeFilePath(input)).toThrow(InvalidPathError);
    expect(() => normalizeFilePath(input)).toThrow(reason);
  });

  it('accepts the longest allowed segment and path', () => {
    const segment = 'a'.repeat(255);
    expect(normalizeFilePath(`uploads/${segment}`)).toBe(`uploads/${segment}`);
    const long = `uploads/${'b/'.repeat(507)}c`;
    expect(long.length).toBe(1023);
    expect(normalizeFilePath(long)).toBe(long);
  });

  it('accepts a top folder alone only when a folder is asked for', () => {
    for (const top of topLevelFolders) {
      expect(normalizeFilePath(top, { allowFolder: true })).toBe(top);
      expect(normalizeFilePath(`${top}/`, { allowFolder: true })).toBe(top);
    }
    expect(normalizeFilePath('workspace/sub/', { allowFolder: true })).toBe('workspace/sub');
  });

  it('refuses values that are not strings', () => {
    expect(() => normalizeFilePath(undefined as unknown as string)).toThrow(InvalidPathError);
    expect(() => normalizeFilePath(42 as unknown as string)).toThrow(InvalidPathError);
  });

  it('keeps the offending path (shortened) in the error', () => {
    const error = (() => {
      try {
        normalizeFilePath(`../${'x'.repeat(500)}`);
      } catch (e) {
        return e as InvalidPathError;
      }
    })();
    expect(error?.path.startsWith('../')).toBe(true);
    expect(error?.message.length).toBeLessThan(300);
  });
});
