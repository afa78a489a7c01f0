// The demo's stand-in for an API: on 127.0.0.1, it answers 200 only to the
// real key (the value scripts/demo.sh stored as a secret) and says what it
// was sent otherwise. It prints its port, then serves until it is stopped.
import { createServer } from 'node:http';

const realKey = process.argv[2];
const server = createServer((request, response) => {
  const sent = request.headers['authorization'] ?? '';
  const ok = sent === `Bearer ${realKey}`;
  response.writeHead(ok ? 200 : 401, { 'content-type': 'text/plain' });
  response.end(ok ? 'upstream: 200, the request carried the real key\n' : `upstream: 401, the request carried ${JSON.stringify(sent)}\n`);
});
server.listen(0, '127.0.0.1', () => console.log(server.address().port));
