// The people the overhead benchmark plays: one inbox poller per role, shared by every case waiting on that role.
import type { BenchPrincipal } from './context';
import type { HttpJson } from './http';
import { sleep } from './stats';

export interface SeenTask {
  id: string;
  caseId: string;
  type: string;
  createdAt: string;
}

/**
 * Polls `GET /v1/tasks?status=open&type=...` every `intervalMs` while any case waits, as a console would refresh an inbox;
 * one poller per role keeps the polling load independent of how many cases are in flight.
 */
export class InboxPoller {
  polls = 0;
  private readonly waiters = new Map<string, { resolve: (t: SeenTask & { seenAt: number }) => void; reject: (e: Error) => void }>();
  private running = false;

  constructor(
    private readonly http: HttpJson,
    private readonly who: BenchPrincipal,
    private readonly type: string,
    private readonly intervalMs: number,
  ) {}

  wait(caseId: string): Promise<SeenTask & { seenAt: number }> {
    const p = new Promise<SeenTask & { seenAt: number }>((resolve, reject) => this.waiters.set(caseId, { resolve, reject }));
    if (!this.running) {
      this.running = true;
      this.loop().catch((err: unknown) => {
        for (const w of this.waiters.values()) w.reject(err as Error);
        this.waiters.clear();
      });
    }
    return p;
  }

  private async loop(): Promise<void> {
    try {
      while (this.waiters.size > 0) {
        this.polls += 1;
        const r = await this.http.ok<{ items: SeenTask[] }>('GET', `/v1/tasks?status=open&type=${this.type}&limit=200`, { token: this.who.token });
        const seenAt = Date.now();
        for (const t of r.body.items) {
          const w = this.waiters.get(t.caseId);
          if (w) {
            this.waiters.delete(t.caseId);
            w.resolve({ ...t, seenAt });
          }
        }
        if (this.waiters.size > 0) await sleep(this.intervalMs);
      }
    } finally {
      this.running = false;
    }
  }
}
