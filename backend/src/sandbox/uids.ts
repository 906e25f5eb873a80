/**
 * The uids a root worker gives its sandboxes: no two live sandboxes share one, so a script cannot
 * signal, renice or ptrace another user's sandbox (at `process` level there is no pid namespace
 * to stop it). A user keeps the same uid across restarts when it is free — their directory is
 * already theirs — otherwise the directory is handed to the new uid before the sandbox starts.
 */
import { createHash } from 'node:crypto';

export class UidPool {
  private readonly inUse = new Set<number>();

  constructor(private readonly range: { first: number; last: number }) {}

  get size(): number {
    return this.range.last - this.range.first + 1;
  }

  private contains(uid: number | undefined): uid is number {
    return uid !== undefined && uid >= this.range.first && uid <= this.range.last;
  }

  /** Takes a free uid: `preferred` when free and in range, else the user's home slot or the next free. */
  take(userId: string, preferred?: number): number {
    if (this.contains(preferred) && !this.inUse.has(preferred)) {
      this.inUse.add(preferred);
      return preferred;
    }
    if (this.inUse.size >= this.size)
      throw new Error(`every uid of the sandbox range ${this.range.first}-${this.range.last} is in use`);
    const home = createHash('sha256').update(userId).digest().readUInt32BE(0) % this.size;
    for (let i = 0; i < this.size; i++) {
      const uid = this.range.first + ((home + i) % this.size);
      if (!this.inUse.has(uid)) {
        this.inUse.add(uid);
        return uid;
      }
    }
    throw new Error('unreachable: a free uid was counted');
  }

  release(uid: number): void {
    this.inUse.delete(uid);
  }

  get live(): number {
    return this.inUse.size;
  }
}
