/** Callers waiting for their sandbox, in arrival order, each bounded in time and cancellable. */
import type { Slot } from './slot.js';
import { SandboxError } from './types.js';

export interface Waiter {
  userId: string;
  resolve: (slot: Slot, warm: boolean) => void;
  reject: (error: Error) => void;
}

export class WaitQueue {
  readonly list: Waiter[] = [];

  /** Queues `userId`; `pump` is called once the waiter is in line. */
  wait(
    userId: string,
    options: { signal?: AbortSignal; timeoutMs: number; timeoutMessage: string },
    pump: () => void,
  ): Promise<{ slot: Slot; warm: boolean }> {
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        userId,
        resolve: (slot, warm) => {
          cleanup();
          resolve({ slot, warm });
        },
        reject: (error) => {
          cleanup();
          reject(error);
        },
      };
      const timer = setTimeout(() => {
        this.drop(waiter);
        reject(new SandboxError('busy', options.timeoutMessage));
      }, options.timeoutMs);
      const onAbort = () => {
        this.drop(waiter);
        cleanup();
        reject(new SandboxError('cancelled', 'waiting for a sandbox was cancelled'));
      };
      const cleanup = () => {
        clearTimeout(timer);
        options.signal?.removeEventListener('abort', onAbort);
      };
      options.signal?.addEventListener('abort', onAbort, { once: true });
      this.list.push(waiter);
      pump();
    });
  }

  rejectAll(error: Error): void {
    for (const waiter of this.list.splice(0)) waiter.reject(error);
  }

  private drop(waiter: Waiter): void {
    const index = this.list.indexOf(waiter);
    if (index !== -1) this.list.splice(index, 1);
  }
}
