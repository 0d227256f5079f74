/** The peer: a bare Fastify HTTPS route with the same TLS certificate, body and response shape. */
import { readFileSync } from 'node:fs';
import Fastify from 'fastify';

const [certPath, keyPath, portText] = process.argv.slice(2);
const app = Fastify({ logger: false, https: { cert: readFileSync(certPath as string), key: readFileSync(keyPath as string) } });
app.post('/bare', async (_req, reply) => {
  reply.code(201);
  return { id: 'AZgVQzQxVq8HbX8Lw9T0Qw', state: 'approved', username: 'user000001', application: 'default', method: 'totp', createdAt: 0, expiresAt: 0, message: 'authentication approved' };
});
await app.listen({ host: '127.0.0.1', port: Number(portText) });
process.stdout.write('ready\n');
