import { type LogLine, RunsClient, type ServiceInfo, type Workspace } from "@mlenv/sdk";
import { type ComponentChild, h } from "preact";
import { useEffect, useState } from "preact/hooks";
import { href } from "./route";
import { errorText } from "./session";
import { CardList, formatDate, lineBatcher, PageFrame, StatusBadge, StatusFact } from "./util";

/** Poll `load` every `ms` while the component is shown. */
function usePoll<T>(load: () => Promise<T>, deps: unknown[], ms: number): { data: T | null; error: unknown } {
  const [state, setState] = useState<{ data: T | null; error: unknown }>({ data: null, error: null });
  useEffect(() => {
    let live = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const tick = async () => {
      try {
        const data = await load();
        if (live) setState({ data, error: null });
      } catch (error) {
        if (live) setState((s) => ({ data: s.data, error }));
      }
      if (live) timer = setTimeout(tick, ms);
    };
    void tick();
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, deps);
  return state;
}

/** Deployed web services and their state (refreshed every 2 s). */
export function ServiceList(props: { ws: Workspace; onError: (e: unknown) => void }): ComponentChild {
  const { data, error } = usePoll(
    () =>
      new RunsClient(props.ws).listServices().catch((e: unknown) => {
        props.onError(e);
        throw e;
      }),
    [props.ws],
    2000,
  );
  const items = data ?? [];
  return h(
    PageFrame,
    { title: "Services", error },
    h(
      "p",
      { class: "meta", "aria-live": "polite" },
      data ? `${items.length} service${items.length === 1 ? "" : "s"}` : "Loading…",
    ),
    h(CardList<ServiceInfo>, {
      items,
      kind: "service",
      name: (s) => s.name,
      href: (s) => href.service(s.name),
      badges: (s) => [h(StatusBadge, { status: s.status })],
      details: (s) => [
        h(
          "p",
          { class: "meta" },
          `model ${s.model.name} v${s.model.version} · ${s.environment.name} v${s.environment.version}`,
        ),
        h(
          "p",
          { class: "meta" },
          `updated ${formatDate(s.updatedAt)}${s.restarts ? ` · ${s.restarts} restart(s)` : ""}`,
        ),
      ],
    }),
  );
}

/** One service: status, scoring address, its log; writers can delete it. */
export function ServicePage(props: {
  ws: Workspace;
  name: string;
  canWrite: boolean;
  onError: (e: unknown) => void;
}): ComponentChild {
  const client = new RunsClient(props.ws);
  const [lines, setLines] = useState<LogLine[]>([]);
  const [deleted, setDeleted] = useState<string | null>(null);
  const { data: s, error } = usePoll<ServiceInfo>(
    () => client.getService(props.name),
    [props.ws, props.name],
    2000,
  );
  // the log, live (server-sent events) until the service fails or is deleted
  useEffect(() => {
    const stop = new AbortController();
    setLines([]);
    void (async () => {
      const batch = lineBatcher<LogLine>((ls) => setLines((shown) => [...shown, ...ls]), stop.signal);
      try {
        for await (const e of new RunsClient(props.ws).followServiceLogs(props.name, {
          signal: stop.signal,
        })) {
          if (e.type === "log") batch.push(e.line);
        }
        batch.flush();
      } catch (e) {
        if (!stop.signal.aborted) props.onError(e);
      }
    })();
    return () => stop.abort();
  }, [props.ws, props.name]);
  const remove = async () => {
    try {
      await client.deleteService(props.name);
      setDeleted(`Service ${props.name} deleted.`);
      location.hash = href.services();
    } catch (e) {
      props.onError(e);
      setDeleted(errorText(e));
    }
  };
  // the worker's own port answers only the server (which adds the service's token): score through the server
  const scoringUrl = s?.url ? `${location.origin}/api/v1/services/${encodeURIComponent(s.name)}/score` : null;
  const example = scoringUrl
    ? `curl -s -X POST ${scoringUrl} -H "Authorization: Bearer $MLENV_TOKEN" -d '{"data": [1, 2, 3]}'`
    : null;
  const [input, setInput] = useState('{"data": [1, 2, 3]}');
  const [inputError, setInputError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [answer, setAnswer] = useState<{ title: string; text: string; failed: boolean } | null>(null);
  const checkJson = (text: string): string | null => {
    try {
      JSON.parse(text);
      return null;
    } catch (e) {
      return `Expected JSON such as {"data": [1, 2]}: ${e instanceof Error ? e.message : String(e)}`;
    }
  };
  const score = async (ev: Event) => {
    ev.preventDefault();
    const problem = checkJson(input);
    setInputError(problem);
    if (problem) {
      document.getElementById("score-input")?.focus();
      return;
    }
    setBusy(true);
    try {
      const { status, body } = await client.scoreService(props.name, input);
      setAnswer({
        title: `Answer: HTTP ${status}`,
        text: JSON.stringify(body, null, 2),
        failed: status >= 400,
      });
    } catch (e) {
      setAnswer({ title: "Not scored", text: errorText(e), failed: true });
    } finally {
      setBusy(false);
    }
  };
  return h(
    PageFrame,
    { crumbs: [[href.services(), "Services"]], title: props.name, error },
    deleted ? h("div", { class: "ok", role: "status" }, deleted) : null,
    s
      ? h(
          "dl",
          { class: "facts" },
          h(StatusFact, { id: "service-status", status: s.status }),
          h("dt", null, "Model"),
          h("dd", null, `${s.model.name} v${s.model.version}`),
          h("dt", null, "Entry script"),
          h("dd", { class: "hash" }, s.entryScript),
          h("dt", null, "Environment"),
          h(
            "dd",
            null,
            h(
              "a",
              { href: href.env(s.environment.name, s.environment.version) },
              `${s.environment.name} v${s.environment.version}`,
            ),
          ),
          h("dt", null, "Scoring URL"),
          h("dd", { class: "hash", id: "service-url" }, scoringUrl ?? "—"),
          h("dt", null, "Restarts"),
          h("dd", null, String(s.restarts)),
        )
      : null,
    s?.error ? h("div", { class: "alert", role: "alert" }, `${s.error.message} (${s.error.code})`) : null,
    s && s.status !== "deleted"
      ? h(
          "section",
          { "aria-labelledby": "score-title" },
          h("h2", { id: "score-title" }, "Send a scoring request"),
          h(
            "form",
            { class: "score", onSubmit: score, noValidate: true, "aria-labelledby": "score-title" },
            h("label", { for: "score-input" }, "Request body (JSON), sent to the entry script's run()"),
            h("textarea", {
              id: "score-input",
              rows: 4,
              spellcheck: false,
              value: input,
              "aria-invalid": inputError ? "true" : "false",
              "aria-describedby": inputError ? "score-input-error" : undefined,
              onInput: (e: Event) => {
                const text = (e.currentTarget as HTMLTextAreaElement).value;
                setInput(text);
                if (inputError) setInputError(checkJson(text));
              },
            }),
            inputError
              ? h("p", { id: "score-input-error", class: "alert", role: "alert" }, inputError)
              : null,
            h("p", null, h("button", { type: "submit", disabled: busy }, busy ? "Scoring…" : "Score")),
          ),
          h(
            "div",
            { "aria-live": "polite" },
            answer
              ? [
                  h("h3", { id: "score-answer-title", key: "t" }, answer.title),
                  h(
                    "pre",
                    {
                      key: "a",
                      id: "score-answer",
                      class: answer.failed ? "code alert" : "code",
                      tabIndex: 0,
                      "aria-labelledby": "score-answer-title",
                    },
                    answer.text,
                  ),
                ]
              : null,
          ),
          example
            ? h(
                "p",
                { class: "meta" },
                "The page sends it through the server. On the server host the service also answers directly: ",
                h("code", { class: "hash" }, example),
              )
            : null,
        )
      : null,
    props.canWrite && s && s.status !== "deleted"
      ? h("p", null, h("button", { type: "button", onClick: remove }, "Delete service"))
      : null,
    h("h2", { id: "service-log-title" }, "Log"),
    h(
      "pre",
      {
        class: "code log",
        id: "service-log",
        role: "log",
        "aria-labelledby": "service-log-title",
        tabIndex: 0,
      },
      lines.length
        ? lines.map((l) => `${l.stream === "stderr" ? "! " : ""}${l.text}\n`).join("")
        : "No output yet.",
    ),
  );
}
