// Free TCP ports: the preferred one when it is free, another otherwise.
import net from 'node:net';

function tryListen(port: number, host: string): Promise<number | null> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', () => resolve(null));
    srv.listen({ port, host, exclusive: true }, () => {
      const addr = srv.address();
      const got = typeof addr === 'object' && addr ? addr.port : null;
      srv.close(() => resolve(got));
    });
  });
}

export async function freePort(preferred = 0, host = '127.0.0.1'): Promise<number> {
  if (preferred > 0) {
    const got = await tryListen(preferred, host);
    if (got !== null) return got;
  }
  const any = await tryListen(0, host);
  if (any === null) throw new Error('no free TCP port');
  return any;
}
