// A GET over a given agent (keep-alive in the shutdown tests): the status, the Connection header the server sent, the body.
import http from 'node:http';

export interface Answer {
  status: number;
  connection: string | undefined;
  body: string;
}

export function getOver(agent: http.Agent, url: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection, body }));
      })
      .on('error', reject);
  });
}
