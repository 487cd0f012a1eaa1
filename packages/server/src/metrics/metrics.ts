import { builds as api } from "@mlenv/api";
import type { MiddlewareHandler } from "hono";
import type { BuildJob, BuildJobStatus } from "../builds/jobStore";

/** Prometheus text exposition format 0.0.4. */
export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** Request duration buckets, seconds. */
export const HTTP_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;
/** Build duration buckets, seconds (a cache hit takes milliseconds, a conda build minutes). */
export const BUILD_BUCKETS = [1, 5, 15, 30, 60, 120, 300, 600, 1200, 3600] as const;

type Labels = Record<string, string>;

function escapeLabel(v: string): string {
  return v.replaceAll("\\", "\\\\").replaceAll("\n", "\\n").replaceAll('"', '\\"');
}

function labelText(labels: Labels): string {
  const keys = Object.keys(labels).sort();
  if (keys.length === 0) return "";
  return `{${keys.map((k) => `${k}="${escapeLabel(labels[k] ?? "")}"`).join(",")}}`;
}

function num(n: number): string {
  if (Number.isNaN(n)) return "NaN";
  if (n === Number.POSITIVE_INFINITY) return "+Inf";
  if (n === Number.NEGATIVE_INFINITY) return "-Inf";
  return String(n);
}

interface HistogramState {
  counts: number[];
  sum: number;
  count: number;
}

/** One family's samples, rendered at scrape time. */
interface Family {
  name: string;
  help: string;
  type: "counter" | "gauge" | "histogram";
  lines(): string[];
}

function histogramLines(
  name: string,
  buckets: readonly number[],
  series: Map<string, [Labels, HistogramState]>,
) {
  const out: string[] = [];
  for (const [labels, h] of series.values()) {
    buckets.forEach((b, i) => {
      out.push(`${name}_bucket${labelText({ ...labels, le: num(b) })} ${h.counts[i]}`);
    });
    out.push(`${name}_bucket${labelText({ ...labels, le: "+Inf" })} ${h.count}`);
    out.push(`${name}_sum${labelText(labels)} ${num(h.sum)}`);
    out.push(`${name}_count${labelText(labels)} ${h.count}`);
  }
  return out;
}

function observe(h: HistogramState, buckets: readonly number[], value: number): void {
  buckets.forEach((b, i) => {
    if (value <= b) h.counts[i]! += 1;
  });
  h.sum += value;
  h.count += 1;
}

/** What the build collector reads: the build job store's `list` (shared by every server process). */
export interface BuildJobsSource {
  list(options?: { status?: BuildJobStatus[]; limit?: number }): Promise<BuildJob[]>;
}

/** Options of {@link ServerMetrics}. */
export interface ServerMetricsOptions {
  /** Finished builds the duration histogram and cache-hit ratio cover (most recent first; default 1000). */
  buildWindow?: number;
}

/**
 * The server's Prometheus metrics: HTTP requests (by method, matched route pattern and status)
 * and their durations, counted in this process; build queue depth, running builds, build
 * durations and the image cache-hit ratio, read from the build job store at scrape time (so every
 * server process sharing a database reports the same queue). Serve {@link ServerMetrics.handler}
 * at `GET /metrics`.
 */
export class ServerMetrics {
  readonly #requests = new Map<string, [Labels, number]>();
  readonly #durations = new Map<string, [Labels, HistogramState]>();
  #builds: BuildJobsSource | undefined;
  readonly #buildWindow: number;
  readonly #startedAt = Date.now();
  readonly #gauges: { name: string; help: string; read: () => number }[] = [];

  constructor(options: ServerMetricsOptions = {}) {
    this.#buildWindow = options.buildWindow ?? 1000;
  }

  /** Report build metrics from this job store. */
  setBuildJobs(source: BuildJobsSource): void {
    this.#builds = source;
  }

  /** Report a gauge read at scrape time (e.g. wheel validations running in this process). */
  addGauge(name: string, help: string, read: () => number): void {
    this.#gauges.push({ name, help, read });
  }

  /** Count one request. `route` is the matched pattern (`/api/v1/environments/:name`), never the raw path. */
  recordRequest(method: string, route: string, status: number, seconds: number): void {
    const labels = { method: method.toUpperCase(), route, status: String(status) };
    const key = JSON.stringify(labels);
    const r = this.#requests.get(key);
    if (r) r[1] += 1;
    else this.#requests.set(key, [labels, 1]);
    const dLabels = { method: labels.method, route };
    const dKey = JSON.stringify(dLabels);
    let h = this.#durations.get(dKey)?.[1];
    if (!h) {
      h = { counts: HTTP_BUCKETS.map(() => 0), sum: 0, count: 0 };
      this.#durations.set(dKey, [dLabels, h]);
    }
    observe(h, HTTP_BUCKETS, seconds);
  }

  /** Hono middleware counting every request it wraps (mount it first: `app.use("*", m.middleware())`). */
  middleware(): MiddlewareHandler {
    return async (c, next) => {
      const t0 = performance.now();
      try {
        await next();
      } finally {
        // routePath is the last matched pattern; unmatched requests share one label value.
        const route =
          c.req.routePath && c.req.routePath !== "*" && c.req.routePath !== "/*"
            ? c.req.routePath
            : "unmatched";
        this.recordRequest(c.req.method, route, c.res.status, (performance.now() - t0) / 1000);
      }
    };
  }

  /** `GET /metrics`. */
  readonly handler = async (): Promise<Response> =>
    new Response(await this.render(), { headers: { "content-type": PROMETHEUS_CONTENT_TYPE } });

  /** Every metric in the text exposition format. */
  async render(): Promise<string> {
    const families: Family[] = [
      {
        name: "mlenv_http_requests_total",
        help: "HTTP requests answered, by method, route pattern and status.",
        type: "counter",
        lines: () =>
          [...this.#requests.values()].map(([l, n]) => `mlenv_http_requests_total${labelText(l)} ${n}`),
      },
      {
        name: "mlenv_http_request_duration_seconds",
        help: "HTTP request durations, by method and route pattern.",
        type: "histogram",
        lines: () => histogramLines("mlenv_http_request_duration_seconds", HTTP_BUCKETS, this.#durations),
      },
      {
        name: "mlenv_process_uptime_seconds",
        help: "Seconds since this server process started.",
        type: "gauge",
        lines: () => [`mlenv_process_uptime_seconds ${num((Date.now() - this.#startedAt) / 1000)}`],
      },
    ];
    for (const g of this.#gauges) {
      families.push({
        name: g.name,
        help: g.help,
        type: "gauge",
        lines: () => [`${g.name} ${num(g.read())}`],
      });
    }
    if (this.#builds) families.push(...(await this.#buildFamilies(this.#builds)));
    const out: string[] = [];
    for (const f of families) {
      out.push(`# HELP ${f.name} ${f.help}`, `# TYPE ${f.name} ${f.type}`, ...f.lines());
    }
    return `${out.join("\n")}\n`;
  }

  async #buildFamilies(source: BuildJobsSource): Promise<Family[]> {
    const [queued, running, finished] = await Promise.all([
      source.list({ status: ["queued"], limit: 100_000 }),
      source.list({ status: ["running"], limit: 100_000 }),
      source.list({ status: [...api.FINAL_BUILD_STATUSES], limit: this.#buildWindow }),
    ]);
    const durations = new Map<string, [Labels, HistogramState]>();
    let hits = 0;
    let succeeded = 0;
    const byStatus: Record<string, number> = { succeeded: 0, failed: 0, canceled: 0 };
    for (const job of finished) {
      byStatus[job.status] = (byStatus[job.status] ?? 0) + 1;
      if (job.status === "succeeded" && job.outcome) {
        succeeded++;
        if (job.outcome.cacheHit) hits++;
        const labels = { cache_hit: String(job.outcome.cacheHit) };
        const key = labels.cache_hit;
        let h = durations.get(key)?.[1];
        if (!h) {
          h = { counts: BUILD_BUCKETS.map(() => 0), sum: 0, count: 0 };
          durations.set(key, [labels, h]);
        }
        observe(h, BUILD_BUCKETS, job.outcome.durationMs / 1000);
      }
    }
    return [
      {
        name: "mlenv_build_queue_depth",
        help: "Build jobs waiting for a builder.",
        type: "gauge",
        lines: () => [`mlenv_build_queue_depth ${queued.length}`],
      },
      {
        name: "mlenv_builds_running",
        help: "Build jobs being built now.",
        type: "gauge",
        lines: () => [`mlenv_builds_running ${running.length}`],
      },
      {
        name: "mlenv_builds_finished",
        help: "Finished build jobs in the reporting window, by status.",
        type: "gauge",
        lines: () =>
          Object.entries(byStatus).map(([status, n]) => `mlenv_builds_finished${labelText({ status })} ${n}`),
      },
      {
        name: "mlenv_build_duration_seconds",
        help: "Durations of succeeded builds in the reporting window, by whether the image cache was hit.",
        type: "histogram",
        lines: () => histogramLines("mlenv_build_duration_seconds", BUILD_BUCKETS, durations),
      },
      {
        name: "mlenv_build_cache_hit_ratio",
        help: "Share of succeeded builds in the reporting window that reused an existing image (NaN when none).",
        type: "gauge",
        lines: () => [`mlenv_build_cache_hit_ratio ${num(succeeded ? hits / succeeded : Number.NaN)}`],
      },
    ];
  }
}
