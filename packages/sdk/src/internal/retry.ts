/** Methods that may be sent twice without changing the outcome (RFC 9110 §9.2.2). */
const IDEMPOTENT = new Set(["GET", "HEAD", "OPTIONS", "PUT", "DELETE"]);

/** Retry policy of SDK requests (tests shorten the delays). */
export interface RetryPolicy {
  /** Attempts in all, the first included (default 4). */
  attempts: number;
  /** First backoff delay in ms, doubled each time (default 250). */
  baseDelayMs: number;
  /** Longest single delay in ms, `Retry-After` included (default 4000). */
  maxDelayMs: number;
}

/** Marks a fetch that already retries, so it is not wrapped twice. */
const RETRYING = Symbol.for("mlenv.sdk.retryingFetch");

export const DEFAULT_RETRY: RetryPolicy = { attempts: 4, baseDelayMs: 250, maxDelayMs: 4_000 };

function codes(error: unknown, depth = 0): string[] {
  if (depth > 4 || typeof error !== "object" || error === null) return [];
  const e = error as { code?: unknown; cause?: unknown; errors?: unknown; message?: unknown };
  const out: string[] = [];
  if (typeof e.code === "string") out.push(e.code);
  if (typeof e.message === "string" && /other side closed/i.test(e.message)) out.push("UND_ERR_SOCKET");
  out.push(...codes(e.cause, depth + 1));
  if (Array.isArray(e.errors)) for (const inner of e.errors) out.push(...codes(inner, depth + 1));
  return out;
}

/**
 * What a failed fetch means for a retry: `refused` (no connection: the request was never sent),
 * `stale` (a pooled keep-alive connection the server had already closed, or one reset under
 * the request), or null (anything else, e.g. a timeout or an abort: not retried).
 */
export function connectionFailure(error: unknown): "refused" | "stale" | null {
  const all = codes(error);
  if (all.includes("ECONNREFUSED")) return "refused";
  if (
    all.some((c) => c === "UND_ERR_SOCKET" || c === "ECONNRESET" || c === "EPIPE" || c === "UND_ERR_CLOSED")
  )
    return "stale";
  return null;
}

function sleep(ms: number, signal: AbortSignal | null | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}

function retryAfterMs(res: Response): number | null {
  const raw = res.headers.get("retry-after");
  if (!raw) return null;
  const seconds = Number(raw);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const at = Date.parse(raw);
  return Number.isNaN(at) ? null : Math.max(0, at - Date.now());
}

/**
 * `fetch` with the SDK's retry rules:
 * - a refused connection (ECONNREFUSED) never carried the request: retried with backoff, any method;
 * - a stale or reset keep-alive connection: idempotent methods (GET, HEAD, OPTIONS, PUT, DELETE)
 *   are retried at once, then with backoff; others are not (the server may have acted on them);
 * - HTTP 502 and 503: idempotent methods are retried with backoff (honouring `Retry-After`).
 * A request whose body is a stream is sent once. Never retries after the caller's signal aborted.
 */
export function retryingFetch(base: typeof fetch, policy: RetryPolicy = DEFAULT_RETRY): typeof fetch {
  if ((base as { [RETRYING]?: true })[RETRYING]) return base;
  const wrapped: typeof fetch = async (input, init) => {
    const method = (init?.method ?? (input instanceof Request ? input.method : "GET")).toUpperCase();
    const body = init?.body;
    const replayable =
      !(input instanceof Request) &&
      (body === undefined ||
        body === null ||
        typeof body === "string" ||
        body instanceof Uint8Array ||
        body instanceof ArrayBuffer ||
        (typeof Blob !== "undefined" && body instanceof Blob) ||
        body instanceof URLSearchParams);
    const idempotent = IDEMPOTENT.has(method) && replayable;
    const signal = init?.signal;
    for (let attempt = 1; ; attempt++) {
      const last = attempt >= policy.attempts || signal?.aborted === true;
      const delay = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
      let res: Response;
      try {
        res = await base(input, init);
      } catch (error) {
        const why = last ? null : connectionFailure(error);
        if (why === "refused" && replayable) {
          await sleep(delay, signal);
          continue;
        }
        if (why === "stale" && idempotent) {
          // the first retry goes at once: a fresh connection is all a stale one needs
          if (attempt > 1) await sleep(delay, signal);
          continue;
        }
        throw error;
      }
      if (!last && idempotent && (res.status === 502 || res.status === 503)) {
        const wait = Math.min(policy.maxDelayMs, retryAfterMs(res) ?? delay);
        await res.body?.cancel().catch(() => {});
        await sleep(wait, signal);
        continue;
      }
      return res;
    }
  };
  Object.defineProperty(wrapped, RETRYING, { value: true });
  return wrapped;
}
