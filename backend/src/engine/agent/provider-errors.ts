import { APICallError } from 'ai';
import type { ExecutionError } from '../../store/types.js';

export function errorText(error: unknown): string {
  if (error instanceof Error) return error.message;
  return typeof error === 'string' ? error : JSON.stringify(error);
}

/** A provider error as the execution's error: auth, rate limit, unavailable or other. */
export function providerFailure(error: unknown): ExecutionError {
  if (APICallError.isInstance(error)) {
    const status = error.statusCode;
    const detail = providerMessage(error);
    if (status === 401 || status === 403)
      return {
        code: 'provider_auth',
        message: `the model provider refused the credentials (HTTP ${status}): ${detail}. Check the API key set on the worker`,
      };
    if (status === 429)
      return {
        code: 'provider_rate_limited',
        message: `the model provider kept rate-limiting after retries: ${detail}`,
      };
    if (status !== undefined && status >= 500)
      return {
        code: 'provider_unavailable',
        message: `the model provider failed (HTTP ${status}) after retries: ${detail}`,
      };
    return {
      code: 'provider_error',
      message: `the model provider refused the request (HTTP ${status ?? '?'}): ${detail}`,
    };
  }
  return { code: 'provider_error', message: `the model call failed: ${errorText(error)}` };
}

function providerMessage(error: APICallError): string {
  try {
    const body = JSON.parse(error.responseBody ?? '') as { error?: { message?: string } };
    if (body.error?.message) return body.error.message;
  } catch {
    // not JSON: fall back to the SDK's message
  }
  return error.message;
}
