// A fake Intercom REST API on 127.0.0.1 that records every request. By
// default POST /events returns 202 with an empty body, as Intercom does, and
// a test can replace `respond` to script other responses.

import http from 'node:http';

export class FakeIntercom {
  constructor() {
    this.requests = [];
    this.respond = FakeIntercom.defaultResponse;
    this.server = http.createServer((request, response) => this.handle(request, response));
  }

  static defaultResponse(request) {
    if (request.method === 'POST' && request.path === '/events') return { status: 202 };
    if (request.method === 'POST' && request.path === '/contacts/search') {
      return { status: 200, body: { type: 'list', data: [], total_count: 0,
                                    pages: { type: 'pages', page: 1, per_page: 50,
                                             total_pages: 0 } } };
    }
    return { status: 404, body: { type: 'error.list', request_id: 'fake-request',
                                  errors: [{ code: 'not_found', message: 'Resource Not Found' }] } };
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

  // Returns the recorded POST /events bodies.
  events() {
    return this.requests.filter((r) => r.method === 'POST' && r.path === '/events')
      .map((r) => r.json);
  }

  handle(request, response) {
    const chunks = [];
    request.on('data', (chunk) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks).toString();
      const recorded = {
        method: request.method,
        path: request.url.split('?')[0],
        url: request.url,
        headers: request.headers,
        receivedAtMs: Date.now(),
        body,
        json: undefined,
      };
      try {
        recorded.json = body ? JSON.parse(body) : undefined;
      } catch {
        // Kept as text; a test asserting on `json` will show it is missing.
      }
      this.requests.push(recorded);

      const answer = this.respond(recorded);
      const headers = { ...(answer.headers || {}) };
      let payload = '';
      if (answer.body !== undefined) {
        payload = JSON.stringify(answer.body);
        headers['content-type'] = 'application/json';
      }
      response.writeHead(answer.status, headers);
      response.end(payload);
    });
  }
}
