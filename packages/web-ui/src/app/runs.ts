import {
  isFinalRunStatus,
  type LogLine,
  type MetricPoint,
  type RunInfo,
  RunsClient,
  type Workspace,
} from "@mlenv/sdk";
import { type ComponentChild, h } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { MetricChart, numericSeries } from "./metricsChart";
import { href } from "./route";
import { formatDate, lineBatcher, PageFrame, StatusBadge, StatusFact, useAsync } from "./util";

/** Every run of the workspace, newest first. */
export function RunList(props: { ws: Workspace; onError: (e: unknown) => void }): ComponentChild {
  const state = useAsync(async () => {
    try {
      return await new RunsClient(props.ws).list();
    } catch (e) {
      props.onError(e);
      throw e;
    }
  }, [props.ws]);
  const runs = [...(state.data ?? [])].sort((a, b) =>
    a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : 0,
  );
  return h(
    PageFrame,
    { title: "Runs", error: state.error },
    h(
      "p",
      { class: "meta", "aria-live": "polite" },
      state.loading && !state.data ? "Loading…" : `${runs.length} run${runs.length === 1 ? "" : "s"}`,
    ),
    h(
      "div",
      { class: "diffwrap", role: "region", tabIndex: 0, "aria-label": "Runs" },
      h(
        "table",
        { class: "changes", id: "runs" },
        h(
          "thead",
          null,
          h(
            "tr",
            null,
            ["Run", "Status", "Script", "Environment", "Created"].map((c) =>
              h("th", { scope: "col", key: c }, c),
            ),
          ),
        ),
        h(
          "tbody",
          null,
          runs.map((r) =>
            h(
              "tr",
              { key: r.id, "data-run": r.id },
              h("th", { scope: "row" }, h("a", { href: href.run(r.id) }, `${r.experiment} #${r.number}`)),
              h("td", null, h(StatusBadge, { status: r.status })),
              h("td", { class: "hash" }, [r.script, ...r.arguments].join(" ")),
              h(
                "td",
                null,
                r.environment
                  ? h(
                      "a",
                      { href: href.env(r.environment.name, r.environment.version) },
                      `${r.environment.name} v${r.environment.version}`,
                    )
                  : "—",
              ),
              h("td", null, formatDate(r.createdAt)),
            ),
          ),
        ),
      ),
    ),
  );
}

function download(bytes: Uint8Array, path: string): void {
  const url = URL.createObjectURL(new Blob([bytes as Uint8Array<ArrayBuffer>]));
  const a = document.createElement("a");
  a.href = url;
  a.download = path.split("/").pop() ?? "artifact";
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** One run: status, its live log (server-sent events), metrics as charts, and its outputs. */
export function RunPage(props: { ws: Workspace; id: string; onError: (e: unknown) => void }): ComponentChild {
  const [run, setRun] = useState<RunInfo | null>(null);
  const [lines, setLines] = useState<LogLine[]>([]);
  const [metrics, setMetrics] = useState<MetricPoint[]>([]);
  const [error, setError] = useState<unknown>(null);
  const logRef = useRef<HTMLPreElement>(null);

  useEffect(() => {
    const stop = new AbortController();
    const client = new RunsClient(props.ws);
    const fail = (e: unknown) => {
      if (stop.signal.aborted) return;
      props.onError(e);
      setError(e);
    };
    // the log, live (server-sent events, resumed after a dropped connection) until the run ends
    void (async () => {
      const batch = lineBatcher<LogLine>((ls) => setLines((shown) => [...shown, ...ls]), stop.signal);
      try {
        for await (const e of client.followLogs(props.id, { signal: stop.signal })) {
          if (e.type === "log") batch.push(e.line);
          else {
            batch.flush();
            setRun(e.run);
            setMetrics(await client.metrics(props.id));
          }
        }
      } catch (e) {
        fail(e);
      }
    })();
    // status and metrics, until the run is final
    void (async () => {
      try {
        for (;;) {
          const [info, points] = await Promise.all([client.get(props.id), client.metrics(props.id)]);
          if (stop.signal.aborted) return;
          setRun(info);
          setMetrics(points);
          if (isFinalRunStatus(info.status)) return;
          await new Promise((r) => setTimeout(r, 1000));
          if (stop.signal.aborted) return;
        }
      } catch (e) {
        fail(e);
      }
    })();
    return () => stop.abort();
  }, [props.ws, props.id]);

  useEffect(() => {
    const el = logRef.current;
    if (el) el.scrollTop = el.scrollHeight;
  }, [lines]);

  const allSeries = numericSeries(metrics);
  // the run helper's own measurements (GPU utilisation and memory) are shown apart from the user's
  const series = allSeries.filter((s) => !s.name.startsWith("system/"));
  const systemSeries = allSeries.filter((s) => s.name.startsWith("system/"));
  return h(
    PageFrame,
    { crumbs: [[href.runs(), "Runs"]], title: run ? `${run.experiment} #${run.number}` : "Run", error },
    run
      ? h(
          "dl",
          { class: "facts" },
          h(StatusFact, {
            id: "run-status",
            status: run.status,
            note: run.exitCode !== null ? ` (exit code ${run.exitCode})` : "",
          }),
          h("dt", null, "Script"),
          h("dd", { class: "hash" }, [run.script, ...run.arguments].join(" ")),
          h("dt", null, "Target"),
          h("dd", null, run.target),
          run.gpus?.count
            ? [
                h("dt", null, "GPUs"),
                h(
                  "dd",
                  { id: "run-gpus" },
                  `${run.gpus.count}${run.gpus.share ? " (shared)" : ""}${run.gpus.devices.length ? `: ${run.gpus.devices.join(", ")}` : " (waiting)"}`,
                ),
              ]
            : null,
          h("dt", null, "Environment"),
          h(
            "dd",
            null,
            run.environment
              ? [
                  h(
                    "a",
                    { href: href.env(run.environment.name, run.environment.version) },
                    `${run.environment.name} v${run.environment.version}`,
                  ),
                  " ",
                  h("span", { class: "hash" }, run.environment.definitionHash),
                ]
              : "—",
          ),
          h("dt", null, "Created"),
          h("dd", null, `${formatDate(run.createdAt)} by ${run.createdBy}`),
          run.finishedAt ? [h("dt", null, "Finished"), h("dd", null, formatDate(run.finishedAt))] : null,
        )
      : null,
    run?.error
      ? h("div", { class: "alert", role: "alert" }, `${run.error.message} (${run.error.code})`)
      : null,
    h("h2", null, "Metrics"),
    series.length
      ? h(
          "div",
          { class: "metrics", id: "run-metrics" },
          series.map((s) => h(MetricChart, { series: s, key: s.name })),
        )
      : h("p", { class: "meta" }, "No metrics logged."),
    systemSeries.length
      ? [
          h("h2", null, "System metrics"),
          h(
            "div",
            { class: "metrics", id: "run-system-metrics" },
            systemSeries.map((s) => h(MetricChart, { series: s, key: s.name })),
          ),
        ]
      : null,
    h("h2", null, "Outputs"),
    run?.artifacts.length
      ? h(
          "ul",
          { id: "run-outputs" },
          run.artifacts.map((a) =>
            h(
              "li",
              { key: a.path },
              h(
                "button",
                {
                  type: "button",
                  onClick: async () => {
                    try {
                      download(await new RunsClient(props.ws).artifact(props.id, a.path), a.path);
                    } catch (e) {
                      setError(e);
                    }
                  },
                },
                `Download ${a.path}`,
              ),
              ` ${a.size} bytes`,
            ),
          ),
        )
      : h("p", { class: "meta" }, "No outputs."),
    h("h2", { id: "run-log-title" }, "Log"),
    h(
      "pre",
      {
        class: "code log",
        id: "run-log",
        role: "log",
        "aria-labelledby": "run-log-title",
        tabIndex: 0,
        ref: logRef,
      },
      lines.length === 0
        ? "Waiting for output…"
        : lines.map((l) => `${l.stream === "stderr" ? "! " : ""}${l.text}\n`).join(""),
    ),
  );
}
