// An S3 stand-in for driving a frontend against meet by hand: objects kept in memory, path-style
// URLs (/bucket/key), PUT (also CopyObject with x-amz-copy-source), HEAD, GET (with Range),
// DELETE, and CORS for the browser's presigned PUT. It checks no signature (meet's own tests use
// a double that verifies SigV4); it logs each request.
//
//   node s3-standin.mjs [--port 9000]
import { createServer } from 'node:http';

const port = Number(process.argv[process.argv.indexOf('--port') + 1] || 9000) || 9000;
const objects = new Map(); // path -> { body, type, meta }

const cors = {
  'access-control-allow-origin': '*',
  'access-control-allow-methods': 'GET, PUT, HEAD, DELETE',
  'access-control-allow-headers': 'content-type, x-amz-acl',
  'access-control-expose-headers': 'etag',
};

createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const path = decodeURIComponent(new URL(req.url, 'http://s3').pathname);
    if (!process.env.STANDIN_QUIET) console.log(`[s3] ${req.method} ${path}`);
    const meta = Object.fromEntries(Object.entries(req.headers).filter(([k]) => k.startsWith('x-amz-meta-')));
    const send = (status, headers = {}, body = '') => {
      res.writeHead(status, { ...cors, ...headers });
      res.end(body);
    };
    if (req.method === 'OPTIONS') return send(200);
    if (req.method === 'PUT') {
      const source = req.headers['x-amz-copy-source'];
      if (source) {
        const from = objects.get(decodeURIComponent(source.startsWith('/') ? source : `/${source}`));
        if (!from) return send(404, { 'content-type': 'application/xml' }, '<Error><Code>NoSuchKey</Code></Error>');
        const replace = req.headers['x-amz-metadata-directive'] === 'REPLACE';
        objects.set(path, {
          body: from.body,
          type: replace ? req.headers['content-type'] || from.type : from.type,
          meta: replace ? meta : from.meta,
        });
        return send(200, { 'content-type': 'application/xml' },
          '<CopyObjectResult><ETag>"copy"</ETag><LastModified>2026-01-01T00:00:00.000Z</LastModified></CopyObjectResult>');
      }
      objects.set(path, { body: Buffer.concat(chunks), type: req.headers['content-type'] || 'binary/octet-stream', meta });
      return send(200, { etag: '"put"' });
    }
    const o = objects.get(path);
    if (req.method === 'DELETE') {
      objects.delete(path);
      return send(204);
    }
    if (!o) return send(404, { 'content-type': 'application/xml' }, req.method === 'HEAD' ? '' : '<Error><Code>NoSuchKey</Code></Error>');
    const headers = { 'content-type': o.type, 'content-length': o.body.length, ...o.meta };
    if (req.method === 'HEAD') return send(200, headers);
    const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range || '');
    if (range) {
      const start = Number(range[1]);
      const end = Math.min(range[2] ? Number(range[2]) : o.body.length - 1, o.body.length - 1);
      const part = o.body.subarray(start, end + 1);
      return send(206, { ...headers, 'content-length': part.length, 'content-range': `bytes ${start}-${end}/${o.body.length}` }, part);
    }
    return send(200, headers, o.body);
  });
}).listen(port, '127.0.0.1', () => console.log(`S3 stand-in on http://127.0.0.1:${port}`));
