import { describe, expect, it } from 'vitest';
import {
  checkCron,
  InvalidScheduleError,
  nextFireTimes,
  previousFireTime,
} from '../../src/automations/cron.js';

const iso = (dates: Date[]) => dates.map((d) => d.toISOString());

describe('cron fire times', () => {
  it('fires at local 09:00 in Asia/Taipei (UTC+8, no DST)', () => {
    expect(iso(nextFireTimes('0 9 * * *', 'Asia/Taipei', new Date('2026-11-30T00:00:00Z'), 3))).toEqual([
      '2026-11-30T01:00:00.000Z',
      '2026-12-01T01:00:00.000Z',
      '2026-12-02T01:00:00.000Z',
    ]);
  });

  it('follows America/New_York across the March change (02:30 does not exist that day)', () => {
    // 2026-03-08 02:00 EST jumps to 03:00 EDT.
    expect(iso(nextFireTimes('30 2 * * *', 'America/New_York', new Date('2026-03-07T00:00:00Z'), 3))).toEqual(
      [
        '2026-03-07T07:30:00.000Z', // 02:30 EST
        '2026-03-08T07:30:00.000Z', // 03:30 EDT: the first instant after the gap, once
        '2026-03-09T06:30:00.000Z', // 02:30 EDT
      ],
    );
    expect(iso(nextFireTimes('0 9 * * *', 'America/New_York', new Date('2026-03-07T00:00:00Z'), 3))).toEqual([
      '2026-03-07T14:00:00.000Z',
      '2026-03-08T13:00:00.000Z',
      '2026-03-09T13:00:00.000Z',
    ]);
  });

  it('fires once at 01:30 on the November day that has it twice', () => {
    // 2026-11-01 02:00 EDT falls back to 01:00 EST: 01:30 happens at 05:30Z and 06:30Z.
    const times = iso(nextFireTimes('30 1 * * *', 'America/New_York', new Date('2026-10-31T00:00:00Z'), 3));
    expect(times).toEqual([
      '2026-10-31T05:30:00.000Z',
      '2026-11-01T05:30:00.000Z',
      '2026-11-02T06:30:00.000Z',
    ]);
    // An hourly schedule keeps firing every real hour through the repeated hour.
    const hourly = iso(nextFireTimes('0 * * * *', 'America/New_York', new Date('2026-11-01T03:30:00Z'), 4));
    expect(hourly).toEqual([
      '2026-11-01T04:00:00.000Z',
      '2026-11-01T05:00:00.000Z',
      '2026-11-01T06:00:00.000Z',
      '2026-11-01T07:00:00.000Z',
    ]);
  });

  it('takes 6 fields (seconds first) and finds the previous tick', () => {
    expect(iso(nextFireTimes('*/20 * * * * *', 'UTC', new Date('2026-01-01T00:00:05Z'), 2))).toEqual([
      '2026-01-01T00:00:20.000Z',
      '2026-01-01T00:00:40.000Z',
    ]);
    expect(previousFireTime('*/20 * * * * *', 'UTC', new Date('2026-01-01T00:00:40Z'))?.toISOString()).toBe(
      '2026-01-01T00:00:40.000Z',
    );
  });

  it('refuses bad expressions, field counts and zones', () => {
    for (const [cron, zone] of [
      ['61 * * * *', 'UTC'],
      ['* * * *', 'UTC'],
      ['* * * * * * *', 'UTC'],
      ['* * * * *', 'Mars/Olympus'],
    ] as const) {
      expect(() => checkCron(cron, zone)).toThrow(InvalidScheduleError);
    }
    expect(() => checkCron('0 9 * * 1-5', 'Asia/Taipei')).not.toThrow();
  });
});
