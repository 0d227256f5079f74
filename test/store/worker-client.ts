/** Parent side of concurrency-worker.ts: one forked Node process with its own store. */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { FromWorker, ToWorker } from './concurrency-worker.ts';

const WORKER = fileURLToPath(new URL('./concurrency-worker.ts', import.meta.url));

export type RunMessage = Extract<ToWorker, { kind: 'run' }>;
export type RunResults = Extract<FromWorker, { kind: 'result' }>['results'];

export class Worker {
  readonly #child: ChildProcess;
  readonly #waiting = new Map<number, (m: FromWorker) => void>();
  /** Resolves once the worker's store is open; rejects with the worker's error. */
  readonly ready: Promise<void>;

  constructor(url: string, keyFile: string, opts: { migrate?: boolean } = {}) {
    this.#child = fork(WORKER, [url, keyFile, opts.migrate ? 'migrate' : 'no-migrate'], { execArgv: [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.ready = new Promise((resolve, reject) => {
      this.#child.once('exit', (code) => reject(new Error(`worker exited with ${code}`)));
      this.#child.on('message', (m: FromWorker) => {
        if (m.kind === 'ready') resolve();
        else if (m.kind === 'error') reject(new Error(m.message));
        else this.#waiting.get(m.id)?.(m);
      });
    });
  }

  run(message: RunMessage): Promise<RunResults> {
    return new Promise((resolve, reject) => {
      this.#waiting.set(message.id, (m) => (m.kind === 'result' ? resolve(m.results) : reject(new Error(JSON.stringify(m)))));
      this.#child.send(message);
    });
  }

  async exit(): Promise<void> {
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return;
    const exited = new Promise((resolve) => this.#child.once('exit', resolve));
    this.#child.send({ kind: 'exit' } satisfies ToWorker);
    await exited;
  }
}
