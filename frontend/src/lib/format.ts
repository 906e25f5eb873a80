import { useMemo } from 'react';
import { useTranslation } from 'react-i18next';

/** Dates, numbers, sizes and durations in the chosen language, all through `Intl`. */
export interface Formatters {
  locale: string;
  number(value: number): string;
  percent(value: number): string;
  dateTime(iso: string | null | undefined): string;
  relative(iso: string | null | undefined, now?: number): string;
  bytes(value: number): string;
  duration(ms: number | null | undefined): string;
}

const byteUnits = ['byte', 'kilobyte', 'megabyte', 'gigabyte', 'terabyte'] as const;

export function createFormatters(locale: string): Formatters {
  const numberFormat = new Intl.NumberFormat(locale);
  const percentFormat = new Intl.NumberFormat(locale, { style: 'percent', maximumFractionDigits: 1 });
  const dateFormat = new Intl.DateTimeFormat(locale, { dateStyle: 'medium', timeStyle: 'short' });
  const relativeFormat = new Intl.RelativeTimeFormat(locale, { numeric: 'auto' });
  return {
    locale,
    number: (value) => numberFormat.format(value),
    percent: (value) => percentFormat.format(value),
    dateTime: (iso) => {
      if (!iso) return '—';
      const date = new Date(iso);
      return Number.isNaN(date.getTime()) ? '—' : dateFormat.format(date);
    },
    relative: (iso, now = Date.now()) => {
      if (!iso) return '—';
      const seconds = Math.round((new Date(iso).getTime() - now) / 1000);
      if (Number.isNaN(seconds)) return '—';
      const abs = Math.abs(seconds);
      if (abs < 60) return relativeFormat.format(seconds, 'second');
      if (abs < 3600) return relativeFormat.format(Math.round(seconds / 60), 'minute');
      if (abs < 86_400) return relativeFormat.format(Math.round(seconds / 3600), 'hour');
      return relativeFormat.format(Math.round(seconds / 86_400), 'day');
    },
    bytes: (value) => {
      let unit = 0;
      let scaled = value;
      while (scaled >= 1024 && unit < byteUnits.length - 1) {
        scaled /= 1024;
        unit++;
      }
      return new Intl.NumberFormat(locale, {
        style: 'unit',
        unit: byteUnits[unit],
        unitDisplay: unit === 0 ? 'long' : 'short',
        maximumFractionDigits: unit === 0 ? 0 : 1,
      }).format(scaled);
    },
    duration: (ms) => {
      if (ms === null || ms === undefined) return '—';
      if (ms < 1000)
        return new Intl.NumberFormat(locale, {
          style: 'unit',
          unit: 'millisecond',
          unitDisplay: 'short',
        }).format(ms);
      return new Intl.NumberFormat(locale, {
        style: 'unit',
        unit: 'second',
        unitDisplay: 'short',
        maximumFractionDigits: 2,
      }).format(ms / 1000);
    },
  };
}

export function useFormat(): Formatters {
  const { i18n } = useTranslation();
  const locale = i18n.resolvedLanguage ?? i18n.language ?? 'en';
  return useMemo(() => createFormatters(locale), [locale]);
}

/**
 * A few characters that tell ids apart where no name is known: the last eight. Ids are UUIDv7,
 * whose leading digits are a time that ids made together share; the trailing ones are random.
 */
export function shortId(id: string): string {
  return id.slice(-8);
}
