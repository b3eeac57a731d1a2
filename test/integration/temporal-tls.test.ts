// A Temporal frontend behind TLS (as Temporal Cloud and secured clusters are): the settings reach the API's client, the
// worker's native connection and the start-up check. A TLS proxy that asks for a client certificate stands in front of
// the test dev server; its certificates (test/support/tls, a test CA valid until 2126) name the host temporal.test.
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { NativeConnection } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import { loadConfig } from '../../scripts/config';
import { connectTemporal, temporalAuthOf } from '../../scripts/lib/runtime';
import { waitForTemporal } from '../../scripts/lib/temporal-server';

const TLS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../support/tls');
const pem = (name: string) => path.join(TLS_DIR, name);

let proxy: tls.Server;
let address: string;
const handshakes: { authorized: boolean; alpn: string | false | null }[] = [];

beforeAll(async () => {
  const [host, port] = inject('temporalAddress').split(':');
  proxy = tls.createServer(
    { key: readFileSync(pem('server.key')), cert: readFileSync(pem('server.pem')), ca: readFileSync(pem('ca.pem')), requestCert: true, rejectUnauthorized: true, ALPNProtocols: ['h2'] },
    (socket) => {
      handshakes.push({ authorized: socket.authorized, alpn: socket.alpnProtocol });
      const upstream = net.connect(Number(port), host);
      socket.pipe(upstream).pipe(socket);
      const end = () => {
        socket.destroy();
        upstream.destroy();
      };
      socket.on('error', end);
      upstream.on('error', end);
    },
  );
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  address = `127.0.0.1:${(proxy.address() as net.AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => proxy?.close(resolve));
});

const mtls = () => ({
  TEMPORAL_ADDRESS: address,
  TEMPORAL_TLS_CA_PATH: pem('ca.pem'),
  TEMPORAL_TLS_CERT_PATH: pem('client.pem'),
  TEMPORAL_TLS_KEY_PATH: pem('client.key'),
  TEMPORAL_TLS_SERVER_NAME: 'temporal.test',
  TEMPORAL_API_KEY: 'an-api-key',
});

describe('Temporal over TLS', () => {
  it('reaches the frontend with the configured CA, server name, client certificate and API key from every client', async () => {
    const config = loadConfig(mtls());
    expect(config.temporalTls).toMatchObject({ tls: true, apiKey: 'an-api-key', serverName: 'temporal.test' });
    const auth = temporalAuthOf(config.temporalTls);
    const before = handshakes.length;

    await waitForTemporal(address, 'default', 10_000, undefined, auth);
    const client = await connectTemporal(address, auth);
    try {
      const ns = await client.workflowService.describeNamespace({ namespace: 'default' });
      expect(ns.namespaceInfo?.name).toBe('default');
    } finally {
      await client.close();
    }
    const native = await NativeConnection.connect({ address, ...auth });
    await native.close();

    const seen = handshakes.slice(before);
    expect(seen.length).toBeGreaterThanOrEqual(3);
    expect(seen.every((h) => h.authorized && h.alpn === 'h2')).toBe(true);
  });

  it('fails fast, naming the address, when the server certificate is not trusted or no client certificate is given', async () => {
    const { TEMPORAL_TLS_CA_PATH: _ca, ...untrusted } = mtls();
    const { TEMPORAL_TLS_CERT_PATH: _c, TEMPORAL_TLS_KEY_PATH: _k, ...anonymous } = mtls();
    for (const env of [untrusted, anonymous]) {
      const auth = temporalAuthOf(loadConfig(env).temporalTls);
      const t0 = Date.now();
      await expect(waitForTemporal(address, 'default', 1_500, undefined, auth)).rejects.toThrow(new RegExp(`Temporal at ${address} did not answer`));
      expect(Date.now() - t0).toBeLessThan(5_000);
    }
  });

  it('refuses settings that cannot work: half a certificate pair, an unreadable file', () => {
    expect(() => loadConfig({ TEMPORAL_TLS_CERT_PATH: pem('client.pem') })).toThrow(/TEMPORAL_TLS_CERT_PATH and TEMPORAL_TLS_KEY_PATH go together/);
    expect(() => temporalAuthOf(loadConfig({ TEMPORAL_TLS_CA_PATH: '/no/such/ca.pem' }).temporalTls)).toThrow(/TEMPORAL_TLS_CA_PATH \/no\/such\/ca.pem cannot be read/);
    // Without any of these settings the connection is plain, as the embedded dev server wants it.
    expect(temporalAuthOf(loadConfig({}).temporalTls)).toEqual({});
    expect(temporalAuthOf(loadConfig({ TEMPORAL_TLS: 'true' }).temporalTls)).toEqual({ tls: true });
  });
});
