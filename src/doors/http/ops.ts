/**
 * Operations endpoints, outside /api/v1 and without API keys:
 * - GET /healthz: the process is alive;
 * - GET /readyz: the server can serve (the composition root's check, e.g. a database round trip);
 * - GET /metrics: Prometheus text, only from loopback or the configured addresses/CIDRs.
 */
import ipaddr from 'ipaddr.js';
import type { Metrics } from '../../ops/metrics.ts';
import { problem, sendProblem } from './errors.ts';
import { StatusSchema } from './schemas.ts';
import type { Api } from './schemas.ts';
import { Type } from 'typebox';

type Range = [ipaddr.IPv4 | ipaddr.IPv6, number];

const LOOPBACK: readonly string[] = ['127.0.0.0/8', '::1/128'];

/** Parses addresses and CIDRs once; throws naming the bad entry. */
export function parseNetworks(entries: readonly string[]): Range[] {
  return entries.map((entry) => {
    try {
      if (entry.includes('/')) {
        const [addr, bits] = ipaddr.parseCIDR(entry);
        return [normalize(addr), addr.kind() === 'ipv6' && normalize(addr).kind() === 'ipv4' ? bits - 96 : bits] as Range;
      }
      const addr = normalize(ipaddr.parse(entry));
      return [addr, addr.kind() === 'ipv4' ? 32 : 128] as Range;
    } catch {
      throw new Error(`metricsAllowFrom: "${entry}" is not an IP address or CIDR`);
    }
  });
}

function normalize(addr: ipaddr.IPv4 | ipaddr.IPv6): ipaddr.IPv4 | ipaddr.IPv6 {
  return addr.kind() === 'ipv6' && (addr as ipaddr.IPv6).isIPv4MappedAddress() ? (addr as ipaddr.IPv6).toIPv4Address() : addr;
}

/** Whether the address is in one of the ranges (false for anything unparsable). */
export function inNetworks(address: string, ranges: readonly Range[]): boolean {
  if (!ipaddr.isValid(address)) return false;
  const addr = normalize(ipaddr.parse(address));
  for (const range of ranges) {
    if (range[0].kind() === addr.kind() && addr.match(range)) return true;
  }
  return false;
}

export interface OpsOptions {
  readonly metrics: Metrics;
  readonly metricsAllowFrom: readonly string[];
  readonly ready: () => Promise<void>;
}

export async function opsRoutes(app: Api, opts: OpsOptions): Promise<void> {
  const allowed = parseNetworks([...LOOPBACK, ...opts.metricsAllowFrom]);
  const registry = opts.metrics.registry;
  const tags = ['ops'];

  app.get(
    '/healthz',
    { schema: { tags, summary: 'Liveness: the process is running', security: [], response: { 200: StatusSchema } } },
    async () => ({ status: 'ok' }),
  );

  app.get(
    '/readyz',
    { schema: { tags, summary: 'Readiness: the server can serve requests (503 when not)', security: [], response: { 200: StatusSchema } } },
    async (request, reply) => {
      try {
        await opts.ready();
      } catch (err) {
        request.log.warn({ err }, 'readiness check failed');
        return sendProblem(reply, problem('not_ready', 'The server is not ready.'));
      }
      return { status: 'ready' };
    },
  );

  app.get(
    '/metrics',
    {
      schema: {
        tags,
        summary: 'Prometheus metrics (loopback and metricsAllowFrom only)',
        security: [],
        response: { 200: { description: 'Prometheus text exposition format', content: { 'text/plain': { schema: Type.String() } } } },
      },
    },
    async (request, reply) => {
      if (!inNetworks(request.ip, allowed)) {
        return sendProblem(reply, problem('forbidden', 'Metrics are not served to this address.'));
      }
      const text = await registry.metrics();
      return reply.type(registry.contentType).send(text);
    },
  );
}
