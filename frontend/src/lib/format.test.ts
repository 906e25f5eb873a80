import { describe, expect, it } from 'vitest';
import { createFormatters, shortId } from './index';

describe('createFormatters', () => {
  it('formats numbers and sizes for the locale', () => {
    const en = createFormatters('en');
    expect(en.number(1234567)).toBe('1,234,567');
    expect(en.bytes(512)).toBe('512 bytes');
    expect(en.bytes(1536)).toBe('1.5 kB');
    expect(en.bytes(100 * 1024 * 1024)).toBe('100 MB');
    expect(en.duration(250)).toBe('250 ms');
    expect(en.duration(1500)).toBe('1.5 sec');
    expect(en.duration(null)).toBe('—');
  });

  it('formats dates differently in zh-TW', () => {
    const iso = '2026-03-04T05:06:00Z';
    const en = createFormatters('en').dateTime(iso);
    const zh = createFormatters('zh-TW').dateTime(iso);
    expect(zh).not.toBe(en);
    expect(zh).toMatch(/2026/);
    expect(createFormatters('zh-TW').dateTime('not a date')).toBe('—');
  });
});

describe('shortId', () => {
  it('tells apart ids made in the same millisecond', () => {
    const a = '01a22d03-7d3b-7000-8000-923f23d60e75';
    const b = '01a22d03-7d3b-7000-8040-5c0a7b11e2d9';
    expect(shortId(a)).toBe('23d60e75');
    expect(shortId(a)).not.toBe(shortId(b));
  });
});
