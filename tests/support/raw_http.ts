// HTTP written by hand on a TCP socket, for what fetch() cannot send: an absolute-form request
// target (`POST http://host/allocate HTTP/1.1`), or headers whose body never comes.
import net from 'node:net';

export interface RawAnswer {
  status: number;
  headers: string;
  body: string;
}

/** Splits what a server sent on a `Connection: close` socket into status, headers and body. */
export function parseAnswer(text: string): RawAnswer {
  const end = text.indexOf('\r\n\r\n');
  const head = end === -1 ? text : text.slice(0, end);
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0);
  return { status, headers: head, body: end === -1 ? '' : text.slice(end + 4) };
}

/**
 * Opens a socket to `port` and writes `text`; `answer` resolves with everything the server
 * sent once it closes the connection, or rejects after `timeoutMs` (a hung server fails the
 * test instead of blocking it). `answered` says whether any byte has come back yet.
 */
export function openRaw(port: number, text: string, timeoutMs = 15_000) {
  const socket = net.connect(port, '127.0.0.1');
  socket.setEncoding('utf8');
  let received = '';
  socket.on('data', (chunk: string) => (received += chunk));
  socket.write(text);
  const answer = new Promise<RawAnswer>((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer in ${timeoutMs} ms (got ${JSON.stringify(received)})`));
    }, timeoutMs);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(parseAnswer(received));
    });
    socket.on('error', () => undefined); // 'close' follows, with what was received
  });
  return { answer, answered: () => received.length > 0, socket };
}

/** One whole request with a JSON body, the connection closed after the answer. */
export function rawJsonRequest(
  port: number,
  method: string,
  target: string,
  body: unknown,
  timeoutMs?: number,
): Promise<RawAnswer> {
  const json = JSON.stringify(body);
  const text =
    `${method} ${target} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n` +
    `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(json)}\r\n\r\n${json}`;
  return openRaw(port, text, timeoutMs).answer;
}
