import { request } from "node:http";
import { preview, ServerError, ServerErrorCode } from "../errors";

/** The slurmrestd OpenAPI plugin this client speaks (Slurm 22.05 without slurmdbd). */
export const SLURM_API = "v0.0.38";

/** How the server reaches slurmrestd: a unix socket (rest_auth/local) or HTTP with a JWT. */
export interface SlurmEndpoint {
  /** `unix:/path/to/slurmrestd.sock` or `http://host:port`. */
  restUrl: string;
  /** JWT auth (HTTP endpoints): the Slurm user name and its token (a workspace secret). */
  user?: string | undefined;
  token?: string | undefined;
  /** Per-request timeout (default 15 s). */
  timeoutMs?: number | undefined;
}

/** A Slurm job as slurmrestd describes it (the fields mlenv reads). */
export interface SlurmJob {
  job_id: number;
  name: string;
  job_state: string;
  state_reason: string;
  exit_code: number;
  nodes: string;
  start_time: number;
  end_time: number;
}

/** Errors of talking to slurmrestd; `unreachable` tells a cluster that is down from a refusal. */
export class SlurmRestError extends Error {
  override readonly name = "SlurmRestError";
  constructor(
    message: string,
    readonly kind: "unreachable" | "unauthorized" | "refused" | "not_found",
    readonly status: number | null = null,
  ) {
    super(message);
  }
}

const UNIX = /^unix:(\/[A-Za-z0-9._/-]{1,400})$/;
const HTTP = /^https?:\/\/(127\.0\.0\.1|\[::1\]|localhost|[A-Za-z0-9.-]{1,253})(:\d{1,5})?\/?$/;

/** Check a REST URL's shape, naming the setting; returns it normalised. */
export function checkRestUrl(value: string): string {
  if (UNIX.test(value) && !value.includes("/../") && !value.endsWith("/..")) return value;
  if (HTTP.test(value)) {
    const u = new URL(value);
    if (u.protocol === "https:") {
      throw new ServerError(
        ServerErrorCode.BAD_REQUEST,
        `Expected restUrl to be unix:/path/to/slurmrestd.sock or http://host:port (slurmrestd speaks plain HTTP; put TLS in front and use its unix socket); received ${preview(value)}`,
        { details: { setting: "restUrl" } },
      );
    }
    return `${u.protocol}//${u.host}`;
  }
  throw new ServerError(
    ServerErrorCode.BAD_REQUEST,
    `Expected restUrl to be unix:/path/to/slurmrestd.sock or http://host:6820 (letters, digits, . _ / - only); received ${preview(value)}`,
    { details: { setting: "restUrl" } },
  );
}

/** A small slurmrestd client (JSON over a unix socket or HTTP). */
export class SlurmRest {
  constructor(readonly endpoint: SlurmEndpoint) {}

  async call<T = Record<string, unknown>>(method: string, path: string, body?: unknown): Promise<T> {
    const e = this.endpoint;
    const unix = UNIX.exec(e.restUrl);
    const url = unix ? null : new URL(e.restUrl);
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const headers: Record<string, string> = { accept: "application/json" };
    if (payload) {
      headers["content-type"] = "application/json";
      headers["content-length"] = String(payload.length);
    }
    if (!unix && e.user && e.token) {
      headers["x-slurm-user-name"] = e.user;
      headers["x-slurm-user-token"] = e.token;
    }
    const full = `/slurm/${SLURM_API}${path}`;
    const { status, text } = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = request(
        {
          method,
          path: full,
          headers,
          ...(unix ? { socketPath: unix[1]! } : { host: url!.hostname, port: Number(url!.port || 80) }),
          timeout: e.timeoutMs ?? 15_000,
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on("data", (c: Buffer) => {
            size += c.length;
            if (size <= 32 * 1024 * 1024) chunks.push(c);
          });
          res.on("end", () =>
            resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }),
          );
          res.on("error", reject);
        },
      );
      req.on("timeout", () => req.destroy(new Error(`no answer within ${e.timeoutMs ?? 15_000} ms`)));
      req.on("error", (err) =>
        reject(
          new SlurmRestError(
            `The Slurm REST endpoint ${e.restUrl} does not answer (${(err as NodeJS.ErrnoException).code ?? err.message})`,
            "unreachable",
          ),
        ),
      );
      req.end(payload);
    });
    if (status === 401 || status === 403) {
      throw new SlurmRestError(
        `The Slurm REST endpoint ${e.restUrl} refused the credentials (HTTP ${status}): the user or token is wrong or expired`,
        "unauthorized",
        status,
      );
    }
    let json: Record<string, unknown>;
    try {
      json = JSON.parse(text) as Record<string, unknown>;
    } catch {
      throw new SlurmRestError(
        `The Slurm REST endpoint ${e.restUrl} answered HTTP ${status} without JSON: ${preview(text, 200)}`,
        status >= 500 || status === 0 ? "unreachable" : "refused",
        status,
      );
    }
    const errors = Array.isArray(json.errors)
      ? (json.errors as { error?: string; error_code?: number }[])
      : [];
    if (status >= 400 || errors.length > 0) {
      const msg = errors.map((x) => x.error ?? `error ${x.error_code}`).join("; ") || `HTTP ${status}`;
      const gone = /invalid job id|unknown job|not found/i.test(msg);
      throw new SlurmRestError(
        `Slurm answered: ${msg.slice(0, 500)}`,
        gone ? "not_found" : "refused",
        status,
      );
    }
    return json as T;
  }

  /** The controller's version (throws when the cluster does not answer). */
  async ping(): Promise<{ release: string }> {
    const j = await this.call<{ meta?: { Slurm?: { release?: string } }; pings?: { ping?: string }[] }>(
      "GET",
      "/ping",
    );
    if (!j.pings?.some((p) => p.ping === "UP")) {
      throw new SlurmRestError(`slurmctld behind ${this.endpoint.restUrl} is not up`, "unreachable");
    }
    return { release: j.meta?.Slurm?.release ?? "unknown" };
  }

  async partitions(): Promise<{ name: string; state: string; maxTimeMinutes: number | null }[]> {
    const j = await this.call<{ partitions?: { name: string; state?: string; maximum_time?: number }[] }>(
      "GET",
      "/partitions",
    );
    return (j.partitions ?? []).map((p) => ({
      name: p.name,
      state: String(p.state ?? ""),
      maxTimeMinutes: typeof p.maximum_time === "number" && p.maximum_time >= 0 ? p.maximum_time : null,
    }));
  }

  async submit(script: string, job: Record<string, unknown>): Promise<number> {
    const j = await this.call<{ job_id?: number }>("POST", "/job/submit", { script, job });
    if (typeof j.job_id !== "number")
      throw new SlurmRestError("Slurm accepted the job without a job id", "refused");
    return j.job_id;
  }

  /** A job, or null when the controller no longer knows it (purged after MinJobAge, or never). */
  async job(id: number): Promise<SlurmJob | null> {
    try {
      const j = await this.call<{ jobs?: SlurmJob[] }>("GET", `/job/${id}`);
      return j.jobs?.find((x) => x.job_id === id) ?? null;
    } catch (e) {
      if (e instanceof SlurmRestError && e.kind === "not_found") return null;
      throw e;
    }
  }

  async cancel(id: number): Promise<void> {
    try {
      await this.call("DELETE", `/job/${id}`);
    } catch (e) {
      if (e instanceof SlurmRestError && e.kind === "not_found") return;
      throw e;
    }
  }
}
