import { pino } from 'pino';
import { secretSettingNames } from '../config/index.js';

export type Logger = pino.Logger;

/** One logger for the process; secrets are redacted wherever they appear in a logged object. */
export function createLogger(level: string, name = 'ipa'): Logger {
  return pino({
    name,
    level,
    redact: {
      paths: [
        'req.headers.authorization',
        'req.headers.cookie',
        'headers.authorization',
        'headers.cookie',
        '*.token',
        '*.apiKey',
        ...secretSettingNames.map((n) => `*.${n}`),
      ],
      censor: '[redacted]',
    },
  });
}
