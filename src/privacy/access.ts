import { PURPOSES, type Purpose } from '../config/schema.ts';
import type { Role } from '../config/settings.ts';
import { RvError } from '../errors.ts';

/** Which purposes each role may see recordings for; staff are not in it: they see only that their own calls were kept. */
export type RolePurposes = Record<Exclude<Role, 'staff'>, Purpose[]>;

/** Practice defaults: a training reviewer coaches and evaluates, never handles complaints or evidence. */
export function defaultRolePurposes(): RolePurposes {
  return { admin: [...PURPOSES], manager: [...PURPOSES], reviewer: ['training', 'evaluation'] };
}

export function allowedPurposes(matrix: RolePurposes, role: Role): Purpose[] {
  return role === 'staff' ? [] : [...(matrix[role] ?? [])];
}

/**
 * A recording is open to a role when at least one of its purposes is one the role may use: the person then
 * uses it for that purpose. A recording without any purpose is open only to a role allowed every purpose.
 */
export function mayOpen(matrix: RolePurposes, role: Role, purposes: readonly string[]): boolean {
  const allowed = allowedPurposes(matrix, role) as string[];
  if (purposes.length === 0) return PURPOSES.every((p) => allowed.includes(p));
  return purposes.some((p) => allowed.includes(p));
}

/** Throws RV_ERR_PURPOSE_NOT_ALLOWED naming what the role may see, so the person knows whom to ask. */
export function requirePurpose(matrix: RolePurposes, role: Role, call: { id: string; purposes: readonly string[] }): void {
  if (mayOpen(matrix, role, call.purposes)) return;
  const allowed = allowedPurposes(matrix, role);
  throw new RvError(
    'RV_ERR_PURPOSE_NOT_ALLOWED',
    `Recording ${call.id} was kept for ${call.purposes.join(', ') || 'no stated purpose'}; your role (${role}) may only see recordings kept for ${allowed.join(', ') || 'no purpose'}. Ask a manager if you need it.`,
    403,
  );
}
