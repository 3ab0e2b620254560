/** Every error a person may see carries a stable code and a sentence they can act on. */
export class RvError extends Error {
  constructor(
    readonly code: `RV_ERR_${string}`,
    message: string,
    readonly status = 400,
  ) {
    super(message);
    this.name = 'RvError';
  }
}

export const isRvError = (e: unknown): e is RvError => e instanceof RvError;
