import { z } from 'zod';

/** One setting: its schema, the default the README shows, what it means. */
export interface Setting<S extends z.ZodType = z.ZodType> {
  readonly schema: S;
  /** Default as written in the README ('—' when the setting is optional without a default). */
  readonly shownDefault: string;
  readonly description: string;
  /** Secrets are never logged and never passed to a sandbox. */
  readonly secret?: boolean;
}

/** The building blocks of the settings tables. */
export const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
export const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');
export const url = z.url();

export function setting<S extends z.ZodType>(
  schema: S,
  shownDefault: string,
  description: string,
  secret = false,
): Setting<S> {
  return { schema, shownDefault, description, secret };
}
