import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { InvalidEventIdError } from '../events/index.js';
import {
  FileCountExceededError,
  InvalidCursorError,
  InvalidPathError,
  QuotaExceededError,
} from '../store/index.js';

/** The one error shape of the API: `{error: {code, message, details?}}`. */
export interface ErrorBody {
  error: { code: string; message: string; details?: unknown };
}

/** An error the API answers as is: a status, a snake_case code and a sentence for people. */
export class ApiError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export const unauthorized = (message = 'A valid API token or session cookie is required.') =>
  new ApiError(401, 'unauthorized', message);
export const forbidden = (message = 'This needs an administrator.') =>
  new ApiError(403, 'forbidden', message);
export const notFound = (what: string) => new ApiError(404, 'not_found', `${what} was not found.`);
export const conflict = (message: string) => new ApiError(409, 'conflict', message);
export const unavailable = (message: string) => new ApiError(503, 'unavailable', message);

export function errorBody(code: string, message: string, details?: unknown): ErrorBody {
  return details === undefined ? { error: { code, message } } : { error: { code, message, details } };
}

const statusCodes: Record<number, string> = {
  400: 'bad_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  405: 'method_not_allowed',
  406: 'not_acceptable',
  408: 'request_timeout',
  409: 'conflict',
  411: 'length_required',
  413: 'payload_too_large',
  414: 'uri_too_long',
  415: 'unsupported_media_type',
  429: 'rate_limited',
  431: 'headers_too_large',
};

/**
 * Fastify's and its plugins' own errors, by code: what they mean in our words. Their messages are
 * written for clients already, so they are passed on; anything unlisted falls back to its status.
 */
const knownErrors: Record<string, { status: number; code: string; message?: string }> = {
  FST_ERR_CTP_INVALID_JSON_BODY: {
    status: 400,
    code: 'invalid_json',
    message: 'The body is not valid JSON.',
  },
  FST_ERR_CTP_EMPTY_JSON_BODY: {
    status: 400,
    code: 'invalid_json',
    message: "The body is empty but the content type is 'application/json'.",
  },
  FST_ERR_CTP_BODY_TOO_LARGE: {
    status: 413,
    code: 'payload_too_large',
    message: 'The body is larger than this route accepts.',
  },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: {
    status: 415,
    code: 'unsupported_media_type',
    message: 'This content type is not accepted here.',
  },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: {
    status: 400,
    code: 'bad_request',
    message: 'Content-Length does not match the body.',
  },
  FST_ERR_BAD_URL: { status: 400, code: 'bad_request', message: 'The URL is malformed.' },
  FST_INVALID_MULTIPART_CONTENT_TYPE: {
    status: 415,
    code: 'unsupported_media_type',
    message: 'The body must be multipart/form-data.',
  },
  FST_REQ_FILE_TOO_LARGE: {
    status: 413,
    code: 'payload_too_large',
    message: 'A file is larger than the upload limit.',
  },
  FST_FILES_LIMIT: { status: 413, code: 'payload_too_large', message: 'Too many files in one upload.' },
  FST_PARTS_LIMIT: { status: 413, code: 'payload_too_large', message: 'Too many parts in one upload.' },
  FST_FIELDS_LIMIT: { status: 413, code: 'payload_too_large', message: 'Too many fields in one upload.' },
  FST_PROTO_VIOLATION: { status: 400, code: 'bad_request', message: 'A field name is not allowed.' },
  FST_MP_PREMATURE_CLOSE: { status: 400, code: 'bad_request', message: 'The upload ended early.' },
  FST_ERR_VALIDATION: { status: 400, code: 'validation_failed' },
};

/** Node's codes for a connection that could not be made or was lost. */
const connectionErrorCodes = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/** pg's own messages for a pool or client that lost its server (they carry no code). */
const lostConnectionMessage =
  /^(Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error)/;

/**
 * True when the error says the database (or another backing service) cannot be reached right now
 * rather than that the request or the code is wrong: a refused or dropped connection, or a
 * PostgreSQL connection exception (SQLSTATE class 08), shutdown (57P01–57P03) or connection limit
 * (53300). Such a request is answered 503, like the readiness probe, so clients retry.
 */
export function isDependencyUnavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  if (err instanceof AggregateError && err.errors.some(isDependencyUnavailable)) return true;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string') {
    if (connectionErrorCodes.has(code)) return true;
    if (/^08[0-9A-Z]{3}$/.test(code) || ['57P01', '57P02', '57P03', '53300'].includes(code)) return true;
  }
  return lostConnectionMessage.test(err.message);
}

/** Turns whatever was thrown into the status and body the client sees. Never leaks a 5xx's cause. */
export function toErrorResponse(err: unknown): { status: number; body: ErrorBody } {
  if (err instanceof ApiError) {
    return { status: err.statusCode, body: errorBody(err.code, err.message, err.details) };
  }
  if (hasZodFastifySchemaValidationErrors(err)) {
    const where = (err as FastifyError).validationContext ?? 'body';
    const details = err.validation.map((issue) => ({
      path: `${where}${issue.instancePath.replaceAll('/', '.').replace(/\.$/, '')}`,
      message: issue.message ?? 'is invalid',
    }));
    const first = details[0];
    return {
      status: 400,
      body: errorBody(
        'validation_failed',
        first ? `The request is invalid: ${first.path}: ${first.message}` : 'The request is invalid.',
        details,
      ),
    };
  }
  if (err instanceof InvalidPathError) {
    return { status: 400, body: errorBody('invalid_path', err.message) };
  }
  if (err instanceof FileCountExceededError) {
    return {
      status: 413,
      body: errorBody('quota_exceeded', 'This would pass the number of files you may keep.', {
        usedFiles: err.usedFiles,
        limitFiles: err.quotaFiles,
      }),
    };
  }
  if (err instanceof QuotaExceededError) {
    return {
      status: 413,
      body: errorBody('quota_exceeded', 'This would pass your storage quota.', {
        usedBytes: err.usedBytes,
        limitBytes: err.quotaBytes,
      }),
    };
  }
  if (err instanceof InvalidEventIdError) {
    return { status: 400, body: errorBody('invalid_event_id', err.message) };
  }
  if (err instanceof InvalidCursorError) {
    return { status: 400, body: errorBody('invalid_cursor', 'The pagination cursor is invalid.') };
  }
  const fastifyError = err as Partial<FastifyError> | undefined;
  const known = fastifyError?.code ? knownErrors[fastifyError.code] : undefined;
  if (known) {
    return {
      status: known.status,
      body: errorBody(known.code, known.message ?? fastifyError?.message ?? 'The request is invalid.'),
    };
  }
  const status = fastifyError?.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return {
      status,
      body: errorBody(
        statusCodes[status] ?? 'bad_request',
        fastifyError?.message || 'The request is invalid.',
      ),
    };
  }
  const sqlState = (err as { code?: unknown } | undefined)?.code;
  if (sqlState === '22P05' || sqlState === '22021') {
    // PostgreSQL cannot store the text (a NUL character, or bytes not valid in its encoding):
    // the request's content is at fault, not the server.
    return {
      status: 400,
      body: errorBody(
        'invalid_text',
        'The request contains a character that cannot be stored (e.g. \\u0000).',
      ),
    };
  }
  if (isDependencyUnavailable(err)) {
    return {
      status: 503,
      body: errorBody(
        'unavailable',
        'A service this request needs is unavailable; please try again shortly.',
      ),
    };
  }
  return { status: 500, body: errorBody('internal_error', 'Something went wrong on our side.') };
}

/** The app's one error handler: 4xx are answered as they are, 5xx are logged and answered blankly. */
export function handleError(err: unknown, request: FastifyRequest, reply: FastifyReply): void {
  const { status, body } = toErrorResponse(err);
  if (status >= 500) {
    request.log.error({ err, method: request.method, url: request.url }, 'request failed');
  } else if (status !== 401 && status !== 404 && status !== 429) {
    request.log.info({ code: body.error.code, url: request.url }, 'request refused');
  }
  void reply.code(status).type('application/json; charset=utf-8').send(body);
}
