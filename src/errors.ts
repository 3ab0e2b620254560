/** Every error a person may see carries a stable code and a sentence they can act on. */
export class RvError extends Error {
  constructor(
    readonly code: `RV_ERR_${string}`,
    message: string,
    readonly status = 400,
    /** the same sentence per UI language, where the person may read Dutch (the web page picks one) */
    readonly localized?: { nl: string; en: string },
  ) {
    super(message);
    this.name = 'RvError';
  }
}

export const isRvError = (e: unknown): e is RvError => e instanceof RvError;
