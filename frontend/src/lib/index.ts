export {
  API_BASE,
  ApiError,
  api,
  apiFetch,
  apiUrl,
  NETWORK_ERROR_CODE,
  type RequestOptions,
  toApiError,
} from './api-client';
export {
  applyExecutionEvent,
  type ExecutionView,
  initialExecutionView,
  isTerminalEvent,
  type StreamEvent,
  type TranscriptItem,
  usageOf,
} from './execution-stream';
export { createFormatters, type Formatters, shortId, useFormat } from './format';
export { usePagedQuery } from './paged-query';
export { errorText, type ServerError, serverErrorText, useServerText } from './server-text';
export {
  type EventStream,
  EventStreamError,
  type EventStreamOptions,
  type EventStreamState,
  openEventStream,
  type SseMessage,
  SseParser,
} from './sse';
export { applyTheme, THEME_STORAGE_KEY, type ThemeChoice, useIsDark, useTheme } from './theme';
export * from './types';
export { type ExecutionStreamResult, useExecutionStream } from './use-execution-stream';
