// Known traffic for observability tests: HTTP_PROXY-style requests through the waypoint with undici's
// ProxyAgent (in-process and light: curl processes would add their own latency under concurrency and
// blur latency assertions). Ten in flight at a time.
import { ProxyAgent, request } from 'undici';

export async function sendTraffic(proxyUrl: string, url: string, n: number): Promise<void> {
  // proxyTunnel: false sends absolute-form requests as HTTP_PROXY clients do (undici tunnels by default).
  const agent = new ProxyAgent({ uri: proxyUrl, proxyTunnel: false });
  try {
    for (let i = 0; i < n; i += 10) {
      await Promise.all(Array.from({ length: Math.min(10, n - i) }, async () => {
        const res = await request(url, { dispatcher: agent });
        await res.body.dump();
      }));
    }
  } finally {
    await agent.close();
  }
}
