import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/**
 * Every Prometheus metric of the platform, created once per process on its own registry (tests
 * start several apps in one process). Gauges that mirror other state are filled by `collect`
 * callbacks registered by the part that owns the state.
 */
export function createMetrics(role: string) {
  const registry = new Registry();
  registry.setDefaultLabels({ role });
  collectDefaultMetrics({ register: registry });
  const secondsBuckets = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];
  return {
    registry,
    httpRequestDuration: new Histogram({
      name: 'ipa_http_request_duration_seconds',
      help: 'HTTP request latency by route and status code',
      labelNames: ['method', 'route', 'status_code'] as const,
      buckets: secondsBuckets,
      registers: [registry],
    }),
    executionsCreated: new Counter({
      name: 'ipa_executions_created_total',
      help: 'Executions accepted by the API, by kind',
      labelNames: ['kind'] as const,
      registers: [registry],
    }),
    executionsStarted: new Counter({
      name: 'ipa_executions_started_total',
      help: 'Execution attempts started by workers, by kind',
      labelNames: ['kind'] as const,
      registers: [registry],
    }),
    executionsFinished: new Counter({
      name: 'ipa_executions_finished_total',
      help: 'Executions finished, by kind and terminal status',
      labelNames: ['kind', 'status'] as const,
      registers: [registry],
    }),
    executionDuration: new Histogram({
      name: 'ipa_execution_duration_seconds',
      help: 'Run time of finished executions, by kind and status',
      labelNames: ['kind', 'status'] as const,
      buckets: secondsBuckets,
      registers: [registry],
    }),
    queueWait: new Histogram({
      name: 'ipa_execution_queue_wait_seconds',
      help: 'Time from creation to start of an execution attempt',
      labelNames: ['kind'] as const,
      buckets: secondsBuckets,
      registers: [registry],
    }),
    egressRequests: new Counter({
      name: 'ipa_egress_requests_total',
      help: 'Requests and tunnels through the egress proxy, by outcome (allowed|refused|failed)',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    modelTokens: new Counter({
      name: 'ipa_model_tokens_total',
      help: 'Model tokens by provider, model and direction (input|output)',
      labelNames: ['provider', 'model', 'direction'] as const,
      registers: [registry],
    }),
    queueDepth: new Gauge({
      name: 'ipa_queue_depth',
      help: 'Jobs in the execution queue by state (waiting, active, delayed)',
      labelNames: ['state'] as const,
      registers: [registry],
    }),
    eventStreamLag: new Histogram({
      name: 'ipa_event_stream_lag_seconds',
      help: 'Time from an event being appended to it being written to an SSE client',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1],
      registers: [registry],
    }),
    sseClients: new Gauge({
      name: 'ipa_sse_clients',
      help: 'Open Server-Sent Events connections',
      registers: [registry],
    }),
    sandboxPool: new Gauge({
      name: 'ipa_sandbox_pool',
      help: 'Sandbox pool figures of this worker (live, busy, idle, waiting, starts, crashes, evictions, reaped, disk and warm-spare figures)',
      labelNames: ['figure'] as const,
      registers: [registry],
    }),
    sandboxIsolation: new Gauge({
      name: 'ipa_sandbox_isolation_level',
      help: 'Isolation level achieved by this worker’s sandboxes (1 for the active level)',
      labelNames: ['level'] as const,
      registers: [registry],
    }),
    workersConnected: new Gauge({
      name: 'ipa_workers_connected',
      help: 'Workers with a live heartbeat',
      registers: [registry],
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
