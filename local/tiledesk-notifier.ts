import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import jwt from 'jsonwebtoken';

/**
 * A global subscription as tiledesk-server stores it (models/subscription.js) and hands it to
 * `notify()` after `toObject()`, `secret` and `global` deleted.
 */
export interface TiledeskHook {
  _id: string;
  event: string;
  target: string;
  id_project: string;
  createdBy: string;
  createdAt: string;
  updatedAt: string;
  __v: number;
}

/** How the imitated tiledesk-server is configured. */
export interface NotifierConfig {
  /** `GLOBAL_SECRET` (HS256), or with `algorithm` RS256 the PEM of `GLOBAL_SECRET_OR_PRIVATE_KEY`. */
  key: string;
  algorithm?: 'HS256' | 'RS256';
  /** The global subscription's own `secret`, sent as `x-hook-secret`. */
  hookSecret: string;
  /** `WEBHOOK_ORIGIN`. @default http://localhost:3000, Tiledesk's default */
  origin?: string;
  /** `audience` of the token; a global subscription's is `https://tiledesk.com`. */
  audience?: string;
}

/** A global subscription document for `event`, pointing at `target`. */
export const globalHook = (event: string, target: string): TiledeskHook => ({
  _id: `65f0000000000000000${Math.floor(Math.random() * 1e5).toString().padStart(5, '0')}`,
  event,
  target,
  id_project: '*',
  createdBy: 'system',
  createdAt: '2026-11-30T10:00:00.000Z',
  updatedAt: '2026-11-30T10:00:00.000Z',
  __v: 0,
});

/**
 * The request tiledesk-server's `services/subscriptionNotifier.js` `notify()` makes for one
 * global subscription, byte for byte: body `{timestamp, payload, hook, token}` in that key
 * order (the `request` library's `json:` option serialises it with JSON.stringify), the token
 * `jwt.sign(hook, secret, {issuer, subject: 'subscription', audience})`, and its four headers.
 */
export function notifierRequest(hook: TiledeskHook, payload: unknown, config: NotifierConfig, timestamp = Date.now()) {
  const token = jwt.sign({ ...hook }, config.key, {
    issuer: 'https://tiledesk.com',
    subject: 'subscription',
    audience: config.audience ?? 'https://tiledesk.com',
    ...(config.algorithm ? { algorithm: config.algorithm } : {}),
  });
  const body = JSON.stringify({ timestamp, payload, hook, token });
  return {
    body,
    headers: {
      // The `request` library adds accept for `json:` requests; the rest are notify()'s own.
      'Content-Type': 'application/json',
      'x-hook-secret': config.hookSecret,
      'User-Agent': 'tiledesk-webhooks',
      Origin: config.origin ?? 'http://localhost:3000',
      accept: 'application/json',
    },
  };
}

/** POSTs exactly these bytes and headers (no client reformatting), as Tiledesk's `request` does. */
export function postRaw(url: string, body: string, headers: Record<string, string>): Promise<{ status: number; text: string; json: unknown }> {
  return new Promise((resolve, reject) => {
    const request = new URL(url).protocol === 'https:' ? httpsRequest : httpRequest;
    const sent = request(url, { method: 'POST', headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) } }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: response.statusCode ?? 0, text, json });
      });
      response.on('error', reject);
    });
    sent.on('error', reject);
    sent.end(body);
  });
}
