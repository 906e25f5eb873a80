export interface ShutdownSignal {
  /** Resolves with the first SIGTERM or SIGINT. */
  readonly received: Promise<NodeJS.Signals>;
  dispose(): void;
}

/**
 * The first SIGTERM/SIGINT starts a graceful shutdown; a second one means the operator will not
 * wait for it, so the process exits at once (exit code 130, as shells report an interrupt).
 */
export function listenForShutdown(log: {
  info(message: string): void;
  warn(message: string): void;
}): ShutdownSignal {
  let first: NodeJS.Signals | undefined;
  let resolve: (signal: NodeJS.Signals) => void = () => {};
  const received = new Promise<NodeJS.Signals>((r) => {
    resolve = r;
  });
  const onSignal = (signal: NodeJS.Signals) => {
    if (first === undefined) {
      first = signal;
      log.info(`${signal} received: shutting down gracefully (send it again to force exit)`);
      resolve(signal);
      return;
    }
    log.warn(`${signal} received again: forcing exit`);
    process.exit(130);
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  return {
    received,
    dispose() {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
    },
  };
}
