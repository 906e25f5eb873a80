import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import type { InputSchema } from '../store/types.js';

/**
 * An automation's input is checked against its JSON Schema (ajv, defaults filled in) before a
 * run is queued, so a bad input is a clear 400 and never a failed run.
 */

const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: false, validateFormats: false });
/** Compiled schemas by their JSON text; automations are few and their schemas small. */
const compiled = new Map<string, ValidateFunction>();
const maxCompiled = 500;

export interface InputProblem {
  path: string;
  message: string;
}

export class InvalidInputSchemaError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidInputSchemaError';
  }
}

function validatorOf(schema: InputSchema): ValidateFunction {
  const key = JSON.stringify(schema);
  let validate = compiled.get(key);
  if (!validate) {
    try {
      validate = ajv.compile(schema);
    } catch (err) {
      throw new InvalidInputSchemaError(
        `The input schema is not a valid JSON Schema: ${(err as Error).message}`,
      );
    }
    if (compiled.size >= maxCompiled) compiled.delete(compiled.keys().next().value as string);
    compiled.set(key, validate);
  }
  return validate;
}

/** Throws InvalidInputSchemaError when the schema itself cannot be compiled. */
export function checkInputSchema(schema: InputSchema): void {
  validatorOf(schema);
}

function problemOf(error: ErrorObject, prefix: string): InputProblem {
  const pointer = error.instancePath
    .split('/')
    .slice(1)
    .map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~'));
  if (error.keyword === 'required') pointer.push(String(error.params.missingProperty));
  if (error.keyword === 'additionalProperties') pointer.push(String(error.params.additionalProperty));
  return { path: [prefix, ...pointer].join('.'), message: error.message ?? 'is invalid' };
}

/**
 * The input a run gets: a copy of `input` (an empty object when absent) with the schema's
 * defaults filled in, or the problems found. Without a schema any input is taken as given.
 */
export function prepareInput(
  schema: InputSchema | null,
  input: unknown,
  pathPrefix = 'body.input',
): { ok: true; input: unknown } | { ok: false; problems: InputProblem[] } {
  if (!schema) return { ok: true, input };
  const value = input === undefined ? {} : structuredClone(input);
  const validate = validatorOf(schema);
  if (validate(value)) return { ok: true, input: value };
  return { ok: false, problems: (validate.errors ?? []).map((e) => problemOf(e, pathPrefix)) };
}
