// A GET over a given agent (keep-alive in the shutdown tests): the status and the Connection header the server sent.
import http from 'node:http';

export interface Answer {
  status: number;
  connection: string | undefined;
}

export function getOver(agent: http.Agent, url: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent }, (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection }));
      })
      .on('error', reject);
  });
}
