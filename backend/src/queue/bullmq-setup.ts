import type { Redis } from 'ioredis';
import { valueWithin } from '../lib/timeout.js';

/**
 * Closing a BullMQ queue or worker removes the listeners that its set-up of a connection (wait for
 * ready, then INFO for the version check) reports a failure to. A set-up still running at close
 * then fails, once its connection is closed, as an unhandled rejection ("Connection is closed."):
 * with a healthy Redis in the moment after the connection opened, with a hung one at any time.
 * So a close first ends an unfinished set-up by disconnecting its connections, and lets the
 * failure be reported while BullMQ still listens (it is logged as a queue error).
 */
export class ConnectionSetup {
  private finished = false;

  /** `setup` resolves once every connection is set up; `connections` are the ones it uses. */
  constructor(
    setup: Promise<unknown>,
    private readonly connections: () => Redis[],
  ) {
    setup.then(
      () => {
        this.finished = true;
      },
      // A failed set-up may have left another connection's running (a worker has two).
      () => undefined,
    );
  }

  /** Ends an unfinished set-up; resolves once its failure has been reported. */
  async end(): Promise<void> {
    if (this.finished) return;
    await Promise.all(this.connections().map(disconnect));
    // The set-up fails in the microtasks that follow its connection's end: they run before this.
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** Disconnects `client` and resolves once it has ended (waits at most 1 s). */
async function disconnect(client: Redis): Promise<void> {
  if (client.status === 'end') return;
  // A client waiting to reconnect just stops: it reports nothing more, nor does its set-up.
  const waitingToReconnect = client.status === 'reconnecting';
  const ended = new Promise((resolve) => client.once('end', resolve));
  client.disconnect();
  if (!waitingToReconnect) await valueWithin(ended, 1000);
}

/** Records the copies made of `client` (BullMQ makes a worker's blocking connection as one). */
export function recordCopies(client: Redis): Redis[] {
  const copies: Redis[] = [];
  const duplicate = client.duplicate.bind(client);
  client.duplicate = (override) => {
    const copy = duplicate(override);
    copies.push(copy);
    return copy;
  };
  return copies;
}
