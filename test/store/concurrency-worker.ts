/**
 * Child process for the store's multi-process tests: opens its own store on the shared database
 * (migrating it when the third argument is `migrate`), reports `ready`, then on each `run` message
 * fires `calls` concurrent operations at `startAt` and reports what each returned.
 */
import { randomUUID } from 'node:crypto';
import type { Store } from '../../src/core/ports.ts';
import { openStore } from '../../src/store/index.ts';
import { loadKeyring } from '../../src/store/keyring.ts';

export type WorkerOp =
  | { readonly op: 'consumeStep'; readonly methodId: string; readonly step: number }
  | { readonly op: 'recordFailure'; readonly userId: string; readonly threshold: number }
  | { readonly op: 'consumeBypass'; readonly userId: string }
  | { readonly op: 'createIfConsumed'; readonly methodId: string; readonly userId: string; readonly step: number };

export type ToWorker = { readonly kind: 'run'; readonly id: number; readonly task: WorkerOp; readonly calls: number; readonly startAt: number; readonly nowBase: number } | { readonly kind: 'exit' };
export type FromWorker =
  | { readonly kind: 'ready' }
  | { readonly kind: 'result'; readonly id: number; readonly results: ReadonlyArray<boolean | { failedCount: number; lockedAt: number | null }> }
  | { readonly kind: 'error'; readonly message: string };

const [url, keyFile, migrate] = process.argv.slice(2) as [string, string, string | undefined];
const send = (message: FromWorker): void => {
  process.send?.(message);
};

function call(store: Store, task: WorkerOp, now: number): Promise<boolean | { failedCount: number; lockedAt: number | null }> {
  switch (task.op) {
    case 'consumeStep':
      return store.methods.consumeStep(task.methodId, task.step, 0, now);
    case 'recordFailure':
      return store.users.recordFailure(task.userId, task.threshold, now);
    case 'consumeBypass':
      return store.bypasses.consume(task.userId, now);
    case 'createIfConsumed': {
      // Each caller's own record and event, written only by the one that consumes the step.
      const id = randomUUID();
      const auth = { id, userId: task.userId, username: 'racer', applicationId: 'app-1', applicationName: 'VPN', clientIp: null, state: 'approved' as const, reason: 'passcode_ok' as const, methodId: task.methodId, methodType: 'totp' as const, createdAt: now, updatedAt: now, expiresAt: now, challengeHash: null };
      const event = { at: now, kind: 'authentication' as const, action: 'authenticate', result: 'approved', reason: 'passcode_ok', username: 'racer', userId: task.userId, displayName: null, email: null, phone: null, device: null, method: 'totp', mode: 'passcode', application: 'VPN', serverName: 'race', clientIp: null, actor: 'cli:race', authenticationId: id, details: null };
      return store.authentications.createIfConsumed({ methodId: task.methodId, step: task.step, drift: 0, now }, auth, event);
    }
  }
}

try {
  const store = await openStore({ url, keyring: await loadKeyring(keyFile), migrate: migrate === 'migrate' });
  process.on('message', (message: ToWorker) => {
    if (message.kind === 'exit') {
      void store.close().then(() => process.exit(0));
      return;
    }
    void (async () => {
      while (Date.now() < message.startAt) await new Promise((r) => setTimeout(r, 1));
      try {
        const results = await Promise.all(Array.from({ length: message.calls }, (_, i) => call(store, message.task, message.nowBase + i)));
        send({ kind: 'result', id: message.id, results });
      } catch (e) {
        send({ kind: 'error', message: String((e as Error).stack ?? e) });
      }
    })();
  });
  send({ kind: 'ready' });
} catch (e) {
  send({ kind: 'error', message: String((e as Error).stack ?? e) });
  process.exit(1);
}
