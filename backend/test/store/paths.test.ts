import { describe, expect, it } from 'vitest';
import {
  conflictCopyPath,
  InvalidPathError,
  normalizeFilePath,
  topLevelFolders,
} from '../../src/store/index.js';

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
    // 64 levels deep at most: 62 folders of 15 characters under uploads/ and a file.
    const long = `uploads/${`${'b'.repeat(15)}/`.repeat(62)}${'c'.repeat(23)}`;
    expect(long.length).toBe(1023);
    expect(normalizeFilePath(long)).toBe(long);
    expect(() => normalizeFilePath(`uploads/${'b/'.repeat(63)}c`)).toThrow(/more than 64 levels/);
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

describe('conflictCopyPath', () => {
  it('puts the tag before the extension, beside the original', () => {
    expect(conflictCopyPath('workspace/notes/ids.txt', 'ab12cd34')).toBe(
      'workspace/notes/ids (conflict ab12cd34).txt',
    );
    expect(conflictCopyPath('outputs/Makefile', 'ab12cd34')).toBe('outputs/Makefile (conflict ab12cd34)');
    expect(conflictCopyPath('outputs/.env', 'ab12cd34')).toBe('outputs/.env (conflict ab12cd34)');
    expect(conflictCopyPath('outputs/a.tar.gz', 'ab12cd34')).toBe('outputs/a.tar (conflict ab12cd34).gz');
  });

  it('shortens a long name and falls back to the top folder for a path too deep', () => {
    const long = conflictCopyPath(`uploads/${'n'.repeat(250)}.csv`, 'ab12cd34');
    expect(long.split('/')[1]).toHaveLength(255);
    expect(long.endsWith(' (conflict ab12cd34).csv')).toBe(true);
    const emoji = conflictCopyPath(`uploads/${'😀'.repeat(127)}.txt`, 'ab12cd34');
    expect(emoji).not.toMatch(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])/);
    const deep = `workspace/${'d'.repeat(200)}/${'e'.repeat(200)}/${'f'.repeat(200)}/${'g'.repeat(200)}/${'h'.repeat(190)}/x.txt`;
    expect(deep.length).toBeLessThanOrEqual(1024);
    expect(conflictCopyPath(deep, 'ab12cd34')).toBe('workspace/conflict ab12cd34.txt');
    // A very long "extension" is part of the name.
    const dotted = conflictCopyPath(`outputs/a.${'x'.repeat(240)}`, 'ab12cd34');
    expect(dotted.split('/')[1]).toHaveLength(255);
    expect(normalizeFilePath(dotted)).toBe(dotted);
  });
});
