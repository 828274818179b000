// IPX (pinned dev dependency) serving the directory argv[2] on loopback, for
// `npm run bench -- --peers`: `GET /w_300,f_jpeg,q_80/<file>`. IPX has no result cache.
import http from 'node:http';
import { createIPX, createIPXNodeServer, ipxFSStorage } from 'ipx';

const ipx = createIPX({ storage: ipxFSStorage({ dir: process.argv[2] }) });
const server = http.createServer(createIPXNodeServer(ipx));
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`listening ${server.address().port}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
