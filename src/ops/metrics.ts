/**
 * Prometheus metrics. `createMetrics()` returns its own registry (so tests and several servers in
 * one process never share counters) holding:
 * - `countersign_authentications_total{result,method,application}`: every finished decision;
 * - `countersign_authentication_duration_seconds{result}`: time the core took to decide;
 * - with the RADIUS door on, `countersign_radius_packets_total{outcome}` (received, answered,
 *   duplicate: answered again from the cache, dropped) and `countersign_radius_dropped_total{reason}`
 *   (the packets that got no reply, by why), read from the door's counters when scraped;
 * - `countersign_gateway_decisions_total{site,decision}`: the web gateway's forward-auth decisions
 *   (allowed, public, sign_in, refused, not_a_proxy, unknown_site);
 * - prom-client's default process metrics (CPU, memory, event loop lag, handles, GC).
 *
 * `observeAuthentication` is an AuthenticationListener: the composition root passes it to the core
 * as `onAuthentication`, so every front door (HTTP, RADIUS, LDAP, gateway) is counted the same way.
 */
import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';
import type { AuthenticationListener, AuthenticationOutcome } from '../core/api.ts';

/** The RADIUS door's counters (src/doors/radius/server.ts). */
export interface RadiusCounters {
  readonly received: number;
  readonly answered: number;
  readonly duplicates: number;
  readonly dropped: number;
  readonly droppedBy: Readonly<Record<string, number>>;
}

export interface Metrics {
  readonly registry: Registry;
  readonly observeAuthentication: AuthenticationListener;
  /** Publishes the RADIUS door's counters. */
  watchRadius(counters: RadiusCounters): void;
  /** Counts a forward-auth decision of the web gateway. */
  readonly observeGatewayDecision: (site: string, decision: string) => void;
}

/** Bucket bounds in seconds: the hot path decides in well under a millisecond; argon2 PIN checks take tens. */
const DURATION_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });

  const total = new Counter({
    name: 'countersign_authentications_total',
    help: 'Finished authentication decisions, by resulting state, method type and application.',
    labelNames: ['result', 'method', 'application'] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'countersign_authentication_duration_seconds',
    help: 'Time taken to reach an authentication decision, in seconds.',
    labelNames: ['result'] as const,
    buckets: DURATION_BUCKETS,
    registers: [registry],
  });

  const observeAuthentication = (outcome: AuthenticationOutcome, durationMs: number): void => {
    const view = outcome.view;
    total.inc({ result: view.state, method: view.method ?? 'none', application: view.application });
    duration.observe({ result: view.state }, durationMs / 1000);
  };

  const gatewayDecisions = new Counter({
    name: 'countersign_gateway_decisions_total',
    help: "The web gateway's forward-auth decisions, by site ('' when no site matched) and decision (allowed, public, sign_in, refused, not_a_proxy, unknown_site).",
    labelNames: ['site', 'decision'] as const,
    registers: [registry],
  });
  const observeGatewayDecision = (site: string, decision: string): void => {
    gatewayDecisions.inc({ site, decision });
  };

  function watchRadius(counters: RadiusCounters): void {
    new Counter({
      name: 'countersign_radius_packets_total',
      help: 'RADIUS packets received, answered, answered again from the duplicate cache, and dropped without a reply.',
      labelNames: ['outcome'] as const,
      registers: [registry],
      collect() {
        this.reset();
        this.inc({ outcome: 'received' }, counters.received);
        this.inc({ outcome: 'answered' }, counters.answered);
        this.inc({ outcome: 'duplicate' }, counters.duplicates);
        this.inc({ outcome: 'dropped' }, counters.dropped);
      },
    });
    new Counter({
      name: 'countersign_radius_dropped_total',
      help: 'RADIUS packets dropped without a reply, by reason (unknown_client, no_message_authenticator, bad_message_authenticator, malformed, ...).',
      labelNames: ['reason'] as const,
      registers: [registry],
      collect() {
        this.reset();
        for (const [reason, n] of Object.entries(counters.droppedBy)) this.inc({ reason }, n);
      },
    });
  }

  return { registry, observeAuthentication, watchRadius, observeGatewayDecision };
}
