// An HTTP proxy on 127.0.0.1 that forwards every request to one target,
// records each exchange, and can spoil the response to a request: replace it
// with a 503, drop the connection, or hold it back. The target
// still receives and processes the request in every case, which is how the
// suites make a client resend a batch that the server already committed.

import http from 'node:http';

import { sleep } from './wait.mjs';

export class RecordingProxy {
  // `targetUrl`: "http://127.0.0.1:PORT" of the server behind the proxy.
  constructor(targetUrl) {
    this.target = new URL(targetUrl);
    this.exchanges = [];
    // Called with each exchange before its response goes back; returns
    // undefined (pass the response on), {status}, {drop: true} or {delayMs}.
    this.spoil = () => undefined;
    this.server = http.createServer((request, response) => {
      this.handle(request, response).catch((error) => {
        response.destroy(error);
      });
    });
  }

  async start() {
    await new Promise((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${this.server.address().port}`;
    return this;
  }

  async stop() {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }

  async handle(request, response) {
    const chunks = [];
    for await (const chunk of request) chunks.push(chunk);
    const exchange = {
      index: this.exchanges.length,
      method: request.method,
      url: request.url,
      path: request.url.split('?')[0],
      query: new URL(request.url, 'http://proxy').searchParams,
      headers: request.headers,
      body: Buffer.concat(chunks),
      receivedAtMs: Date.now(),
      status: undefined,        // the target's response status
      responseHeaders: undefined,
      responseBody: undefined,
      sentStatus: undefined,    // what the client got; undefined when dropped
    };
    this.exchanges.push(exchange);

    const upstream = await this.forward(request, exchange.body);
    exchange.status = upstream.status;
    exchange.responseHeaders = upstream.headers;
    exchange.responseBody = upstream.body.toString();

    const spoiled = this.spoil(exchange);
    if (spoiled?.delayMs) await sleep(spoiled.delayMs);
    if (spoiled?.drop) {
      request.socket.destroy();
      return;
    }
    if (response.destroyed) return;
    if (spoiled?.status) {
      exchange.sentStatus = spoiled.status;
      response.writeHead(spoiled.status, { 'content-type': 'application/json' });
      response.end(JSON.stringify(spoiled.body ?? { error: 'spoiled by the test proxy' }));
      return;
    }
    exchange.sentStatus = upstream.status;
    response.writeHead(upstream.status, upstream.headers);
    response.end(upstream.body);
  }

  forward(request, body) {
    const headers = { ...request.headers, host: this.target.host };
    delete headers.connection;
    return new Promise((resolve, reject) => {
      const upstream = http.request({
        host: this.target.hostname,
        port: this.target.port,
        method: request.method,
        path: request.url,
        headers,
        timeout: 30000,
      }, (answer) => {
        const chunks = [];
        answer.on('data', (chunk) => chunks.push(chunk));
        answer.on('end', () => {
          const answerHeaders = { ...answer.headers };
          delete answerHeaders.connection;
          delete answerHeaders['keep-alive'];
          delete answerHeaders['transfer-encoding'];
          answerHeaders['content-length'] = String(Buffer.concat(chunks).length);
          resolve({ status: answer.statusCode, headers: answerHeaders, body: Buffer.concat(chunks) });
        });
        answer.on('error', reject);
      });
      upstream.on('timeout', () => upstream.destroy(new Error('proxy: target timed out after 30 s')));
      upstream.on('error', reject);
      upstream.end(body);
    });
  }
}
