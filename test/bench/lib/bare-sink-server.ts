/**
 * The ceiling baseline, run as its own process: a bare smtp-server that reads every DATA
 * stream to the end and drops it (no parsing, no disk, no relay). Started by bare-sink.ts
 * with an IPC channel: it sends { ready: port } once listening and answers
 * { type: 'count' } with { count } (messages whose DATA ended and got a 250).
 */
import { SMTPServer } from 'smtp-server';

const port = Number(process.argv[2]);
let count = 0;

const server = new SMTPServer({
  name: 'bare-sink.localhost',
  banner: 'bare smtp-server sink',
  authOptional: true,
  disabledCommands: ['AUTH', 'STARTTLS'],
  logger: false,
  onData(stream, _session, callback) {
    stream.on('end', () => {
      count++;
      callback();
    });
    stream.resume();
  },
});

server.on('error', (err) => {
  process.stderr.write(`bare sink error: ${err.message}\n`);
});

process.on('message', (msg: { type?: string }) => {
  if (msg.type === 'count') process.send?.({ count });
});
process.on('disconnect', () => process.exit(0));
process.on('SIGTERM', () => server.close(() => process.exit(0)));

server.listen(port, '127.0.0.1', () => process.send?.({ ready: port }));
