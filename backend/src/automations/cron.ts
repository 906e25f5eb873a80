import cronParser from 'cron-parser';

/** Cron expressions and their fire times, through `cron-parser` (the library BullMQ uses too). */

export class InvalidScheduleError extends Error {
  constructor(
    readonly field: 'cron' | 'timeZone',
    message: string,
  ) {
    super(message);
    this.name = 'InvalidScheduleError';
  }
}

/** An IANA zone name the runtime knows (`Asia/Taipei`, `America/New_York`, `UTC`). */
export function checkTimeZone(timeZone: string): string {
  try {
    return new Intl.DateTimeFormat('en-US', { timeZone }).resolvedOptions().timeZone && timeZone;
  } catch {
    throw new InvalidScheduleError('timeZone', `${timeZone} is not an IANA time zone.`);
  }
}

/**
 * Checks a 5-field (minute first) or 6-field (second first) expression in a zone; throws
 * InvalidScheduleError with the library's reason.
 */
export function checkCron(cron: string, timeZone: string): void {
  checkTimeZone(timeZone);
  const fields = cron.trim().split(/\s+/);
  if (fields.length !== 5 && fields.length !== 6) {
    throw new InvalidScheduleError(
      'cron',
      'A cron expression has 5 fields (minute first) or 6 (second first).',
    );
  }
  try {
    cronParser.parseExpression(cron, { tz: timeZone }).next();
  } catch (err) {
    throw new InvalidScheduleError('cron', `Not a valid cron expression: ${(err as Error).message}.`);
  }
}

/**
 * The next `count` fire times strictly after `after`, in the schedule's zone (a local time that
 * does not exist on a spring-forward day fires at the first instant after the gap; one that
 * happens twice on a fall-back day fires once).
 */
export function nextFireTimes(cron: string, timeZone: string, after: Date, count: number): Date[] {
  const times: Date[] = [];
  const iterator = cronParser.parseExpression(cron, { tz: timeZone, currentDate: after });
  while (times.length < count) {
    let next: Date;
    try {
      next = iterator.next().toDate();
    } catch {
      break; // No further time (an expression naming a date that never comes again).
    }
    if (next.getTime() > after.getTime()) times.push(next);
  }
  return times;
}

export function nextFireTime(cron: string, timeZone: string, after: Date): Date | null {
  return nextFireTimes(cron, timeZone, after, 1)[0] ?? null;
}

/** The newest fire time at or before `atOrBefore` (null: none). */
export function previousFireTime(cron: string, timeZone: string, atOrBefore: Date): Date | null {
  try {
    return cronParser
      .parseExpression(cron, { tz: timeZone, currentDate: new Date(atOrBefore.getTime() + 1) })
      .prev()
      .toDate();
  } catch {
    return null;
  }
}
