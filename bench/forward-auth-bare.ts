/**
 * The floor for the forward-auth latency pair: a bare Node.js HTTP server answering what a
 * decision answers (200 with the identity headers), no framework, no session, nothing else.
 * Its p99 on the same core shows how much of the tail is the machine, not the check.
 */
import { createServer } from 'node:http';

const port = Number(process.argv[2]);
createServer((_req, res) => {
  res.writeHead(200, { 'remote-user': 'benchuser', 'remote-email': '', 'remote-name': '', 'remote-groups': '', 'cache-control': 'no-store' });
  res.end();
}).listen(port, '127.0.0.1', () => process.stdout.write('ready\n'));
