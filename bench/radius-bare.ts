/**
 * A bare Node.js RADIUS responder, the ceiling for the RADIUS benchmark (bench/radius.ts): one
 * UDP socket, and for every datagram the codec's work a RADIUS server cannot skip (decode, verify
 * the Message-Authenticator, reveal User-Password) then an Access-Accept signed for the request,
 * Message-Authenticator first. No users, no store, no second factor: what Node and the codec
 * cost per request, nothing else.
 *
 *   node bench/radius-bare.ts <port> <secret>
 */
import { createSocket } from 'node:dgram';
import { decodePacket, decryptUserPassword, encodePacket, RadiusSecret, verifyRequest } from '../src/doors/radius/codec.ts';

const port = Number(process.argv[2]);
const secret = new RadiusSecret(process.argv[3] ?? '');
const socket = createSocket('udp4');
socket.on('message', (msg, rinfo) => {
  try {
    const packet = decodePacket(msg);
    if (verifyRequest(packet, msg, secret) !== 'valid') return;
    if (packet.code === 'Access-Request') {
      const hidden = packet.raw(2)[0];
      if (hidden === undefined) return;
      decryptUserPassword(hidden, secret, packet.authenticator);
    } else if (packet.code !== 'Status-Server') return;
    socket.send(encodePacket({ code: 'Access-Accept', identifier: packet.identifier, attributes: [] }, secret, packet.authenticator), rinfo.port, rinfo.address);
  } catch {
    // Malformed: no answer.
  }
});
socket.bind(port, '127.0.0.1');
