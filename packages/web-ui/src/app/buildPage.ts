import {
  type BuildInfo,
  type BuildLogLine,
  BuildsClient,
  isFinalBuildStatus,
  type Workspace,
} from "@mlenv/sdk";
import { type ComponentChild, h } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { href } from "./route";
import { formatDate, PageFrame, StatusFact } from "./util";

/** The first part of an error message: the failed step's output is shown in the log. */
function headline(message: string): string {
  const cut = message.split(/\s+step output \(last lines\):/)[0] ?? message;
  return cut.length > 300 ? `${cut.slice(0, 300)}…` : cut;
}

function durationText(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`;
}

/** One build: status, live log, image details or the failed step. */
export function BuildPage(props: {
  ws: Workspace;
  id: string;
  canWrite: boolean;
  onError: (e: unknown) => void;
}): ComponentChild {
  const [job, setJob] = useState<BuildInfo | null>(null);
  const [lines, setLines] = useState<BuildLogLine[]>([]);
  const [error, setError] = useState<unknown>(null);
  const [following, setFollowing] = useState(false);
  const [cancelling, setCancelling] = useState(false);
  const logRef = useRef<HTMLPreElement>(null);
  const stick = useRef(true);

  useEffect(() => {
    const stop = new AbortController();
    setLines([]);
    setJob(null);
    setError(null);
    (async () => {
      try {
        const first = await new BuildsClient(props.ws).get(props.id);
        if (stop.signal.aborted) return;
        setJob(first);
        setFollowing(true);
        // the SDK's follower: SSE read with fetch (the token goes in a header), resumed after a drop
        for await (const e of new BuildsClient(props.ws).follow(props.id, { signal: stop.signal })) {
          if (e.type === "log") setLines((ls) => [...ls, e.line]);
          else setJob(e.job);
        }
      } catch (e) {
        if (!stop.signal.aborted) {
          props.onError(e);
          setError(e);
        }
      } finally {
        if (!stop.signal.aborted) setFollowing(false);
      }
    })();
    return () => stop.abort();
  }, [props.ws, props.id]);

  useEffect(() => {
    const el = logRef.current;
    if (el && stick.current) el.scrollTop = el.scrollHeight;
  }, [lines]);

  const cancel = async () => {
    setCancelling(true);
    try {
      setJob(await new BuildsClient(props.ws).cancel(props.id));
    } catch (e) {
      props.onError(e);
      setError(e);
    } finally {
      setCancelling(false);
    }
  };

  const env = job?.context.environment;
  const version = job?.context.version;
  return h(
    PageFrame,
    {
      crumbs: [
        [href.list(), "Environments"],
        typeof env === "string"
          ? [
              href.env(env, typeof version === "number" ? version : undefined),
              `${env}${typeof version === "number" ? ` v${version}` : ""}`,
            ]
          : null,
      ],
      title: ["Build ", h("span", { class: "hash" }, props.id)],
      error,
    },
    job
      ? h(
          "dl",
          { class: "facts" },
          h(StatusFact, {
            id: "build-status",
            status: job.status,
            note: following && !isFinalBuildStatus(job.status) ? " (following the log live)" : "",
          }),
          h("dt", null, "Image"),
          h("dd", { class: "hash" }, job.outcome?.image ?? job.image),
          h("dt", null, "Image key"),
          h("dd", { class: "hash" }, job.imageKey),
          h("dt", null, "Queued"),
          h("dd", null, formatDate(job.createdAt)),
          job.startedAt ? [h("dt", null, "Started"), h("dd", null, formatDate(job.startedAt))] : null,
          job.finishedAt ? [h("dt", null, "Finished"), h("dd", null, formatDate(job.finishedAt))] : null,
        )
      : null,
    job && !isFinalBuildStatus(job.status) && props.canWrite
      ? h(
          "p",
          null,
          h(
            "button",
            { type: "button", onClick: cancel, disabled: cancelling },
            cancelling ? "Cancelling…" : "Cancel build",
          ),
        )
      : null,
    job?.outcome
      ? h(
          "section",
          { "aria-labelledby": "outcome-title", id: "build-outcome" },
          h("h2", { id: "outcome-title" }, "Image"),
          h(
            "dl",
            { class: "facts" },
            h("dt", null, "Reference"),
            h("dd", { class: "hash" }, job.outcome.image),
            h("dt", null, "Image id"),
            h("dd", { class: "hash" }, job.outcome.imageId ?? "—"),
            h("dt", null, "Digest"),
            h("dd", { class: "hash" }, job.outcome.digest ?? "—"),
            h("dt", null, "Cache"),
            h(
              "dd",
              null,
              job.outcome.cacheHit
                ? `hit: the image was ${job.outcome.source === "registry" ? "in the registry" : "on the engine"}`
                : "missed: built now",
            ),
            h("dt", null, "Duration"),
            h("dd", null, durationText(job.outcome.durationMs)),
            h("dt", null, "Steps"),
            h(
              "dd",
              null,
              `${job.outcome.steps.length} (${job.outcome.steps.filter((s) => s.cached).length} cached)`,
            ),
          ),
        )
      : null,
    job?.error
      ? h(
          "div",
          { class: "alert", role: "alert", id: "build-error" },
          h("p", null, `${headline(job.error.message)} (${job.error.code})`),
          job.error.step
            ? h(
                "p",
                null,
                `Failed at step ${job.error.step.index ?? "?"}${job.error.step.total ? `/${job.error.step.total}` : ""}: `,
                h("code", null, job.error.step.instruction ?? ""),
              )
            : null,
        )
      : null,
    h("h2", { id: "log-title" }, "Log"),
    h(
      "pre",
      {
        class: "code log",
        id: "build-log",
        role: "log",
        "aria-labelledby": "log-title",
        tabIndex: 0,
        ref: logRef,
        onScroll: (e: Event) => {
          const el = e.currentTarget as HTMLPreElement;
          stick.current = el.scrollHeight - el.scrollTop - el.clientHeight < 24;
        },
      },
      lines.length === 0
        ? job && isFinalBuildStatus(job.status)
          ? "(no log lines)"
          : "Waiting for the log…"
        : lines.map((l) => `${l.text}\n`).join(""),
    ),
  );
}
