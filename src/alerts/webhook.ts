import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { readFile } from 'node:fs/promises';
import type { WebhookSettings } from './config.ts';
import { explainWebhook, explainWebhookStatus } from './explain.ts';
import { DELIVERY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, signBody } from './payload.ts';

/**
 * POSTs one signed JSON body. Resolves on a 2xx answer; rejects with an RvError whose sentence says
 * what to fix (a 500, refused connection, untrusted certificate…). Redirects are not followed, so
 * the signed body never goes anywhere the admin did not name.
 */
export async function postWebhook(s: WebhookSettings, body: string, timestamp: number, deliveryId: string, timeoutMs = 10_000): Promise<void> {
  const url = new URL(s.url);
  const ca = s.caFile ? await readFile(s.caFile) : undefined;
  const req = url.protocol === 'https:' ? httpsRequest : httpRequest;
  await new Promise<void>((resolve, reject) => {
    const r = req(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body), 'user-agent': 'ringvault-alerts/1',
        [TIMESTAMP_HEADER]: String(timestamp), [SIGNATURE_HEADER]: signBody(s.secret, body), [DELIVERY_HEADER]: deliveryId,
      },
      timeout: timeoutMs,
      ...(ca ? { ca } : {}),
    }, (res) => {
      res.resume();
      res.once('end', () => {
        const st = res.statusCode ?? 0;
        if (st >= 200 && st < 300) resolve(); else reject(explainWebhookStatus(st, res.statusMessage ?? '', url));
      });
      res.once('error', (e) => reject(explainWebhook(e, url)));
    });
    r.once('timeout', () => r.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })));
    r.once('error', (e) => reject(explainWebhook(e, url)));
    r.end(body);
  });
}
