import { randomBytes } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { RvError } from '../errors.ts';
import type { Role } from '../config/settings.ts';

export interface Session { token: string; user: string; role: Role; extension?: string; expires: number }

export const SESSION_COOKIE = 'rv_session';

/** Sessions live in memory only: a restart logs everyone out, which is what a stolen box should do. */
export class Sessions {
  private readonly byToken = new Map<string, Session>();
  constructor(private readonly ttlMs: number, private readonly now: () => number = Date.now) {}

  create(user: string, role: Role, extension?: string): Session {
    const s: Session = { token: randomBytes(32).toString('base64url'), user, role, extension, expires: this.now() + this.ttlMs };
    this.byToken.set(s.token, s);
    return s;
  }

  get(token: string | undefined): Session | undefined {
    if (!token) return undefined;
    const s = this.byToken.get(token);
    if (!s) return undefined;
    if (s.expires < this.now()) { this.byToken.delete(token); return undefined; }
    s.expires = this.now() + this.ttlMs;
    return s;
  }

  drop(token: string | undefined): void { if (token) this.byToken.delete(token); }

  /** After a user is deleted or their role changes, their sessions end. */
  dropUser(user: string): void { for (const [t, s] of this.byToken) if (s.user === user) this.byToken.delete(t); }

  /** After a passphrase change, every session of the user ends except the one that changed it. */
  dropUserExcept(user: string, keep: string | undefined): void {
    for (const [t, s] of this.byToken) if (s.user === user && t !== keep) this.byToken.delete(t);
  }
}

export const STAFF_AND_UP: readonly Role[] = ['admin', 'manager', 'reviewer', 'staff'];
export const REVIEWERS: readonly Role[] = ['admin', 'manager', 'reviewer'];
export const MANAGERS: readonly Role[] = ['admin', 'manager'];
export const ADMINS: readonly Role[] = ['admin'];

declare module 'fastify' {
  interface FastifyRequest { session?: Session }
}

/** Route onRequest hook (runs before body validation, so strangers learn nothing of the schema): answers only a logged-in user whose role is listed. */
export function allow(roles: readonly Role[]) {
  return async (req: FastifyRequest, _reply: FastifyReply): Promise<void> => {
    if (!req.session) throw new RvError('RV_ERR_NOT_LOGGED_IN', 'Log in first.', 401);
    if (!roles.includes(req.session.role)) throw new RvError('RV_ERR_FORBIDDEN', `Your role (${req.session.role}) may not do this; ask an administrator.`, 403);
  };
}
