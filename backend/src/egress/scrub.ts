/**
 * Removes secret values from what a bound host sends back, so a host that echoes the request
 * (headers, query, body) cannot hand a value into the sandbox. Verbatim, URL-encoded, base64 and
 * JSON-escaped forms are replaced; a value split across two chunks is caught by carrying the last
 * `longest - 1` bytes of each chunk over to the next.
 */
import { Transform, type TransformCallback } from 'node:stream';

export const redaction = '[secret removed]';

/** The forms of each value an echo might carry. */
export function secretForms(values: readonly string[]): Buffer[] {
  const forms = new Set<string>();
  for (const value of values) {
    if (!value) continue;
    forms.add(value);
    forms.add(encodeURIComponent(value));
    forms.add(new URLSearchParams({ v: value }).toString().slice(2));
    forms.add(Buffer.from(value).toString('base64'));
    forms.add(Buffer.from(value).toString('base64url'));
    forms.add(JSON.stringify(value).slice(1, -1));
  }
  // Longest first, so a form that contains a shorter one is removed whole.
  return [...forms]
    .filter((form) => form.length > 0)
    .sort((a, b) => b.length - a.length)
    .map((form) => Buffer.from(form));
}

export function scrubBuffer(input: Buffer, forms: readonly Buffer[]): Buffer {
  let out = input;
  const mark = Buffer.from(redaction);
  for (const form of forms) {
    let at = out.indexOf(form);
    if (at === -1) continue;
    const parts: Buffer[] = [];
    let from = 0;
    while (at !== -1) {
      parts.push(out.subarray(from, at), mark);
      from = at + form.length;
      at = out.indexOf(form, from);
    }
    parts.push(out.subarray(from));
    out = Buffer.concat(parts);
  }
  return out;
}

export function scrubText(text: string, forms: readonly Buffer[]): string {
  return forms.length === 0 ? text : scrubBuffer(Buffer.from(text), forms).toString();
}

export class ScrubStream extends Transform {
  private carry: Buffer = Buffer.alloc(0);
  private readonly keep: number;

  constructor(private readonly forms: readonly Buffer[]) {
    super();
    this.keep = Math.max(0, ...forms.map((f) => f.length)) - 1;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    const scrubbed = scrubBuffer(Buffer.concat([this.carry, chunk]), this.forms);
    const cut = Math.max(0, scrubbed.length - this.keep);
    this.carry = scrubbed.subarray(cut);
    done(null, scrubbed.subarray(0, cut));
  }

  override _flush(done: TransformCallback): void {
    done(null, scrubBuffer(this.carry, this.forms));
  }
}
