import { RvError } from '../errors.ts';

type Err = Error & { code?: string | number; responseCode?: number; response?: string; errno?: number; reason?: string; cause?: unknown };

/** The network cause inside nodemailer's, fetch's or mqtt's wrapping: ECONNREFUSED, ENOTFOUND, a certificate error… */
function rootCode(e: Err): string {
  const seen = new Set<unknown>();
  let cur: unknown = e;
  while (cur && typeof cur === 'object' && !seen.has(cur)) {
    seen.add(cur);
    const c = (cur as Err).code;
    if (typeof c === 'string' && /^(ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|ECONNRESET|EHOSTUNREACH|ENETUNREACH|UND_ERR_CONNECT_TIMEOUT|UND_ERR_HEADERS_TIMEOUT|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE|ERR_TLS_CERT_ALTNAME_INVALID|CERT_HAS_EXPIRED|UNABLE_TO_GET_ISSUER_CERT_LOCALLY|ERR_SSL_WRONG_VERSION_NUMBER|EPROTO)$/.test(c)) return c;
    cur = (cur as Err).cause;
  }
  const m = /\b(ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|ECONNRESET|EHOSTUNREACH|ENETUNREACH)\b/.exec(String(e.message));
  if (m) return m[1]!;
  if (/self[- ]signed|unable to verify|certificate/i.test(String(e.message))) return 'CERT';
  if (/wrong version number|ssl3_get_record|packet length too long/i.test(String(e.message))) return 'ERR_SSL_WRONG_VERSION_NUMBER';
  return typeof e.code === 'string' ? e.code : '';
}

/** The parts a network failure has in common, or undefined if it is not one of them. */
function network(code: string, what: string, where: string, fix: string): string | undefined {
  switch (code) {
    case 'ECONNREFUSED': return `Nothing answers at ${where} (connection refused): check the ${what}'s address and port, and that it runs. ${fix}`;
    case 'ENOTFOUND': case 'EAI_AGAIN': return `The ${what}'s name in ${where} cannot be found (DNS): check its spelling and the box's network settings.`;
    case 'ETIMEDOUT': case 'UND_ERR_CONNECT_TIMEOUT': case 'UND_ERR_HEADERS_TIMEOUT': return `The ${what} at ${where} does not answer (timed out): check the address, the port and any firewall between the box and it.`;
    case 'EHOSTUNREACH': case 'ENETUNREACH': return `The box cannot reach ${where} (no route): check the box's network cable and the address.`;
    case 'ECONNRESET': return `The ${what} at ${where} closed the connection: check the port and whether it expects TLS.`;
    case 'CERT': case 'DEPTH_ZERO_SELF_SIGNED_CERT': case 'SELF_SIGNED_CERT_IN_CHAIN': case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE': case 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY':
      return `The ${what}'s TLS certificate at ${where} is not trusted: give the PEM file of the CA that signed it as caFile, or use a certificate from a public CA.`;
    case 'ERR_TLS_CERT_ALTNAME_INVALID': return `The ${what}'s TLS certificate at ${where} is for another name: use the name the certificate was made for.`;
    case 'CERT_HAS_EXPIRED': return `The ${what}'s TLS certificate at ${where} has expired: renew it on the server.`;
    case 'ERR_SSL_WRONG_VERSION_NUMBER': case 'EPROTO': return `The ${what} at ${where} does not speak TLS the way it was set: check the security setting against the port (STARTTLS on 587, TLS on 465).`;
    default: return undefined;
  }
}

export function explainEmail(e: Err, host: string, port: number): RvError {
  const where = `${host}:${port}`;
  const code = rootCode(e);
  const net = network(code, 'SMTP server', where, 'Port 587 is usual for STARTTLS, 465 for TLS.');
  if (net) return new RvError('RV_ERR_NOTIFY_EMAIL', net, 502);
  const said = e.response ? ` (it said: ${e.response.slice(0, 160)})` : '';
  if (e.code === 'EAUTH' || e.code === 'ENOAUTH') return new RvError('RV_ERR_NOTIFY_EMAIL', `The SMTP server at ${where} refused the user name or password${said}: check the login and password (some providers need an app password).`, 502);
  if (e.code === 'ETLS' || /STARTTLS/i.test(e.message)) return new RvError('RV_ERR_NOTIFY_EMAIL', `The SMTP server at ${where} did not start TLS${said}: check that it offers STARTTLS on this port, or choose TLS on port 465.`, 502);
  if (e.code === 'EENVELOPE') return new RvError('RV_ERR_NOTIFY_EMAIL', `The SMTP server at ${where} refused the sender or a recipient${said}: check the from and to addresses, and that the login may send as the sender.`, 502);
  return new RvError('RV_ERR_NOTIFY_EMAIL', `Sending by e-mail through ${where} failed (${e.code ?? 'error'}: ${String(e.message).slice(0, 160)}): check the SMTP settings.`, 502);
}

export function explainWebhook(e: Err, url: URL): RvError {
  const net = network(rootCode(e), 'webhook server', url.host, '');
  if (net) return new RvError('RV_ERR_NOTIFY_WEBHOOK', net, 502);
  return new RvError('RV_ERR_NOTIFY_WEBHOOK', `Posting to the webhook at ${url.host} failed (${String(e.message).slice(0, 160)}): check the address.`, 502);
}

export function explainWebhookStatus(status: number, statusText: string, url: URL): RvError {
  const what = `The webhook at ${url.host} answered ${status}${statusText ? ` ${statusText}` : ''}`;
  if (status === 401 || status === 403) return new RvError('RV_ERR_NOTIFY_WEBHOOK', `${what}: it did not accept the request; check that it checks the signature with the same secret as the box.`, 502);
  if (status === 404 || status === 405) return new RvError('RV_ERR_NOTIFY_WEBHOOK', `${what}: nothing takes POSTs at ${url.pathname}; check the path of the address.`, 502);
  if (status >= 300 && status < 400) return new RvError('RV_ERR_NOTIFY_WEBHOOK', `${what} (a redirect, which the box does not follow): give the final address.`, 502);
  if (status >= 500) return new RvError('RV_ERR_NOTIFY_WEBHOOK', `${what}: the receiving service failed; its own log says why. Fix it there; the box keeps the alerts and tries again.`, 502);
  return new RvError('RV_ERR_NOTIFY_WEBHOOK', `${what}: check the address and what the receiver expects.`, 502);
}

export function explainMqtt(e: Err, url: URL): RvError {
  const where = url.host;
  // CONNACK return codes (MQTT 3.1.1) and reason codes (5.0).
  const rc = typeof e.code === 'number' ? e.code : undefined;
  if (rc === 4 || rc === 134 || /bad user ?name or password/i.test(e.message)) return new RvError('RV_ERR_NOTIFY_MQTT', `The MQTT broker at ${where} refused the user name or password: check them against the broker's users.`, 502);
  if (rc === 5 || rc === 135 || /not authori[sz]ed/i.test(e.message)) return new RvError('RV_ERR_NOTIFY_MQTT', `The MQTT broker at ${where} refused the box (not authorised): allow this user to connect and to publish under the topic prefix and the discovery prefix.`, 502);
  if (rc === 2 || rc === 133) return new RvError('RV_ERR_NOTIFY_MQTT', `The MQTT broker at ${where} refused the client id: check the broker's client id rules.`, 502);
  if (rc === 3 || rc === 136) return new RvError('RV_ERR_NOTIFY_MQTT', `The MQTT broker at ${where} says it is unavailable: check the broker.`, 502);
  const net = network(rootCode(e), 'MQTT broker', where, 'Port 1883 is usual, 8883 for mqtts.');
  if (net) return new RvError('RV_ERR_NOTIFY_MQTT', net, 502);
  return new RvError('RV_ERR_NOTIFY_MQTT', `The MQTT broker at ${where} could not be used (${String(e.message).slice(0, 160)}): check the broker address and login.`, 502);
}
