/**
 * What the API process knows about its own life: whether it is draining, and the open event
 * streams it must end (with a reconnect hint) before it can close.
 */
export class ApiLifecycle {
  readonly startedAt = Date.now();
  #draining = false;
  readonly #streams = new Set<(retryMs: number) => void>();

  get draining(): boolean {
    return this.#draining;
  }

  get openStreams(): number {
    return this.#streams.size;
  }

  /** Registers an open stream; `end` is called once at drain time. Returns the unregister function. */
  trackStream(end: (retryMs: number) => void): () => void {
    this.#streams.add(end);
    return () => {
      this.#streams.delete(end);
    };
  }

  /** Turns not-ready and ends every open stream, telling its client to reconnect after `retryMs`. */
  startDraining(retryMs: number): void {
    this.#draining = true;
    for (const end of [...this.#streams]) {
      this.#streams.delete(end);
      end(retryMs);
    }
  }
}
