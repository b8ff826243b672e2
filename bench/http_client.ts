// One keep-alive HTTP/1.1 connection with one request in flight at a time: the load generator
// gives each simulated client its own. Two implementations: a minimal one on a raw socket (the
// default: it costs the shared CPU a fraction of what node:http does, see BENCHMARKS.md's
// generator check) and node:http with a keep-alive Agent, for comparison.
import http from 'node:http';
import net from 'node:net';

export interface HttpResponse {
  status: number;
  body: Buffer;
}

export interface Origin {
  host: string;
  port: number;
}

export type ClientKind = 'raw' | 'node';

export interface Connection {
  request(method: string, path: string, body?: string): Promise<HttpResponse>;
  close(): void;
}

export async function connect(kind: ClientKind, origin: Origin): Promise<Connection> {
  return kind === 'raw' ? RawConnection.open(origin) : new NodeHttpConnection(origin);
}

const HEADER_END = Buffer.from('\r\n\r\n');
const CRLF = Buffer.from('\r\n');

class RawConnection implements Connection {
  private buffer: Buffer = Buffer.alloc(0);
  private waiting: ((result: HttpResponse | Error) => void) | undefined;
  private failure: Error | undefined;
  private readonly hostHeader: string;

  private constructor(
    private readonly socket: net.Socket,
    origin: Origin,
  ) {
    this.hostHeader = `${origin.host}:${origin.port}`;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (error) => this.fail(error));
    socket.on('close', () => this.fail(new Error('connection closed by the server')));
  }

  static open(origin: Origin): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(origin.port, origin.host);
      socket.once('error', reject);
      socket.once('connect', () => {
        socket.removeListener('error', reject);
        resolve(new RawConnection(socket, origin));
      });
    });
  }

  request(method: string, path: string, body?: string): Promise<HttpResponse> {
    if (this.failure) return Promise.reject(this.failure);
    let head = `${method} ${path} HTTP/1.1\r\nHost: ${this.hostHeader}\r\n`;
    if (body !== undefined) {
      head += `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n`;
    }
    this.socket.write(body === undefined ? `${head}\r\n` : `${head}\r\n${body}`);
    return new Promise((resolve, reject) => {
      this.waiting = (result) => (result instanceof Error ? reject(result) : resolve(result));
    });
  }

  close(): void {
    this.failure ??= new Error('connection closed');
    this.socket.destroy();
  }

  private fail(error: Error): void {
    this.failure ??= error;
    const waiting = this.waiting;
    this.waiting = undefined;
    waiting?.(this.failure);
  }

  private onData(chunk: Buffer): void {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    const parsed = parseResponse(this.buffer);
    if (!parsed) return;
    this.buffer = this.buffer.subarray(parsed.consumed);
    if (parsed.close) this.failure = new Error('the server closed the keep-alive connection');
    const waiting = this.waiting;
    this.waiting = undefined;
    waiting?.(parsed.response);
  }
}

interface Parsed {
  response: HttpResponse;
  consumed: number;
  close: boolean;
}

/** Parses one complete response at the start of `buf`, or returns undefined if it is partial. */
export function parseResponse(buf: Buffer): Parsed | undefined {
  const headerEnd = buf.indexOf(HEADER_END);
  if (headerEnd < 0) return undefined;
  const status = Number(buf.toString('latin1', 9, 12));
  const headers = buf.toString('latin1', 0, headerEnd).toLowerCase();
  const close = /\r\nconnection: *close/.test(headers);
  const start = headerEnd + 4;
  const length = /\r\ncontent-length: *(\d+)/.exec(headers);
  if (length) {
    const end = start + Number(length[1]);
    if (buf.length < end) return undefined;
    return { response: { status, body: buf.subarray(start, end) }, consumed: end, close };
  }
  if (/\r\ntransfer-encoding: *chunked/.test(headers)) return parseChunked(buf, start, status);
  // No length and not chunked: a bodiless response (204, 304) in practice.
  return { response: { status, body: Buffer.alloc(0) }, consumed: start, close };
}

function parseChunked(buf: Buffer, start: number, status: number): Parsed | undefined {
  const pieces: Buffer[] = [];
  let at = start;
  for (;;) {
    const lineEnd = buf.indexOf(CRLF, at);
    if (lineEnd < 0) return undefined;
    const size = parseInt(buf.toString('latin1', at, lineEnd), 16);
    if (size === 0) {
      const end = buf.indexOf(CRLF, lineEnd + 2); // no trailers expected: the empty line
      if (end < 0) return undefined;
      return {
        response: { status, body: Buffer.concat(pieces) },
        consumed: end + 2,
        close: false,
      };
    }
    const dataEnd = lineEnd + 2 + size;
    if (buf.length < dataEnd + 2) return undefined;
    pieces.push(buf.subarray(lineEnd + 2, dataEnd));
    at = dataEnd + 2;
  }
}

class NodeHttpConnection implements Connection {
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

  constructor(private readonly origin: Origin) {}

  request(method: string, path: string, body?: string): Promise<HttpResponse> {
    return new Promise((resolve, reject) => {
      const headers: http.OutgoingHttpHeaders = {};
      if (body !== undefined) {
        headers['content-type'] = 'application/json';
        headers['content-length'] = Buffer.byteLength(body);
      }
      const req = http.request(
        { ...this.origin, method, path, agent: this.agent, headers },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }),
          );
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}
