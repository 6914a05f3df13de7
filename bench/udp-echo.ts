// The far end of the rtpengine reference, run as its own process so that its CPU is not counted as rtpengine's:
// one UDP socket that sends every datagram back to where it came from. Prints its port, then runs until killed.
import { createSocket } from 'node:dgram';
import { HOST } from './ports.js';

const socket = createSocket({ type: 'udp4', recvBufferSize: 4 * 1024 * 1024 });
socket.on('message', (packet, from) => socket.send(packet, from.port, from.address));
socket.bind(0, HOST, () => process.stdout.write(`${socket.address().port}\n`));
