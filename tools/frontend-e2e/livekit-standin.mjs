// A LiveKit server stand-in for driving a frontend against meet by hand: it answers the Twirp
// calls meet makes (RoomService, AgentDispatch, SIP) with empty protobuf messages (every list
// empty) and logs each call; GetParticipant answers not_found.
// It is no media server: browsers cannot connect to it, which is expected.
//
//   node livekit-standin.mjs [--port 7991]
import { createServer } from 'node:http';

const port = Number(process.argv[process.argv.indexOf('--port') + 1] || 7991) || 7991;

export function start(p = port) {
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const method = req.url.split('/').pop();
      if (!process.env.STANDIN_QUIET) console.log(`[livekit] ${req.method} ${req.url} ${body.slice(0, 200)}`);
      if (method === 'GetParticipant') {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ code: 'not_found', msg: 'participant not found' }));
        return;
      }
      // An empty protobuf message is the default value of every response type.
      res.writeHead(200, { 'content-type': 'application/protobuf', 'content-length': 0 });
      res.end();
    });
  });
  return new Promise((resolve) => server.listen(p, '127.0.0.1', () => resolve(server)));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await start();
  console.log(`LiveKit stand-in on http://127.0.0.1:${port}`);
}
