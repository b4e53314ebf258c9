// What nginx does in front of meet in a deployment, for driving a frontend by hand: `/media/…`
// is authorised by a subrequest to meet's media-auth endpoint (files or recordings, with the
// browser's cookies and `X-Original-URL`), then fetched from the object store with the signature
// headers meet answered; everything else goes to meet unchanged.
//
//   node media-gateway.mjs --port 8070 --meet http://127.0.0.1:8071 --s3 http://127.0.0.1:9000 --bucket B
import { createServer, request } from 'node:http';

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const port = Number(arg('port', 8070));
const meet = new URL(arg('meet', 'http://127.0.0.1:8071'));
const s3 = new URL(arg('s3', 'http://127.0.0.1:9000'));
const bucket = arg('bucket', 'meet-media-storage');

function forward(target, req, res, path, headers) {
  const up = request(
    { host: target.hostname, port: target.port, method: req.method, path, headers },
    (r) => {
      res.writeHead(r.statusCode, r.headers);
      r.pipe(res);
    },
  );
  up.on('error', (e) => {
    res.writeHead(502, { 'content-type': 'text/plain' });
    res.end(`bad gateway: ${e.message}`);
  });
  req.pipe(up);
}

function subrequest(path, headers) {
  return new Promise((resolve) => {
    const r = request({ host: meet.hostname, port: meet.port, method: 'GET', path, headers }, (resp) => {
      resp.resume();
      resp.on('end', () => resolve(resp));
    });
    r.on('error', () => resolve({ statusCode: 502, headers: {} }));
    r.end();
  });
}

createServer(async (req, res) => {
  const url = new URL(req.url, 'http://gateway');
  if (!url.pathname.startsWith('/media/')) return forward(meet, req, res, req.url, req.headers);
  const kind = url.pathname.startsWith('/media/recordings/') ? 'recordings' : 'files';
  const auth = await subrequest(`/api/v1.0/${kind}/media-auth/`, {
    cookie: req.headers.cookie ?? '',
    host: req.headers.host ?? '',
    'x-forwarded-proto': req.headers['x-forwarded-proto'] ?? 'http',
    'x-original-url': req.url,
  });
  if (auth.statusCode !== 200) {
    res.writeHead(auth.statusCode === 401 ? 401 : 403);
    return res.end();
  }
  const headers = { host: s3.host };
  for (const h of ['authorization', 'x-amz-date', 'x-amz-content-sha256']) headers[h] = auth.headers[h];
  forward(s3, req, res, `/${bucket}${url.pathname.slice('/media'.length)}`, headers);
}).listen(port, '127.0.0.1', () => console.log(`media gateway on http://127.0.0.1:${port}`));
