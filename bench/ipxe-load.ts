/**
 * The iPXE-script load client of bench/http.ts, run as its own process: `--connections` keep-alive
 * connections, each from its own loopback source address (`--sources a,b,...`, one per connection)
 * asking for its own path (`--paths p,q,...`), one request in flight per connection as wrk does,
 * for `--seconds`. An install script goes only to its node's address, so each connection is a node
 * fetching its own script (wrk cannot choose a source address). Prints one JSON line: requests,
 * non-200 answers, errors, latency percentiles in ms.
 *
 *   node --import tsx bench/ipxe-load.ts --port P --sources 127.1.0.1,... --paths /boot/ipxe/...,... --seconds 10
 */
import net from 'node:net';

function opt(name: string): string {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0 || i + 1 >= process.argv.length) throw new Error(`--${name} is required`);
  return process.argv[i + 1]!;
}

const port = Number(opt('port'));
const sources = opt('sources').split(',');
const paths = opt('paths').split(',');
const seconds = Number(opt('seconds'));
if (sources.length !== paths.length) throw new Error('one path per source');

const latencies: number[] = [];
let requests = 0;
let non200 = 0;
let errors = 0;
const deadline = performance.now() + seconds * 1000;

/**
 * One client: request, read the whole answer (head, then Content-Length bytes), again, until the
 * deadline. A server that closes a kept-alive connection (nginx after keepalive_requests, 1000) is
 * reconnected to, as iPXE would.
 */
function drive(source: string, path: string): Promise<void> {
  const request = Buffer.from(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: iPXE/1.21.1\r\n\r\n`, 'latin1');
  return new Promise((resolve) => {
    const connect = (): void => {
      const sock = net.connect({ host: '127.0.0.1', port, localAddress: source });
      sock.setNoDelay(true);
      let buf = Buffer.alloc(0);
      let sent = 0;
      const send = (): void => {
        if (performance.now() >= deadline) {
          sock.end();
          return;
        }
        sent = performance.now();
        sock.write(request);
      };
      sock.on('connect', send);
      sock.on('data', (chunk) => {
        buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
        for (;;) {
          const end = buf.indexOf('\r\n\r\n');
          if (end < 0) return;
          const head = buf.toString('latin1', 0, end);
          const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
          if (buf.length < end + 4 + length) return;
          buf = buf.subarray(end + 4 + length);
          requests++;
          latencies.push(performance.now() - sent);
          if (!head.startsWith('HTTP/1.1 200')) non200++;
          if (/\r\nconnection: *close/i.test(head)) return;
          send();
        }
      });
      sock.on('error', () => errors++);
      sock.on('close', () => (performance.now() < deadline ? connect() : resolve()));
    };
    connect();
  });
}

await Promise.all(sources.map((s, i) => drive(s, paths[i]!)));
latencies.sort((a, b) => a - b);
const at = (q: number): number => Number((latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0).toFixed(2));
process.stdout.write(`${JSON.stringify({ requests, non200, errors, seconds, p50: at(0.5), p99: at(0.99) })}\n`);
