import type { DefinitionIssue } from "@mlenv/core";
import type { RegisterResult, Workspace } from "@mlenv/sdk";
import { type ComponentChild, h } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { type Analysis, analyseSource, formatOfFile, type SourceFormat } from "./analyse";
import { href } from "./route";
import { errorText } from "./session";
import { PageFrame } from "./util";

/** The definition the new-environment page starts with. */
export const EXAMPLE = `name: my-env
channels:
  - conda-forge
dependencies:
  - python=3.11
  - numpy=1.26.4
  - pip:
      - requests==2.32.3
`;

/** Select line `line` (1-based) of a textarea and scroll it into view. */
function selectLine(area: HTMLTextAreaElement, line: number): void {
  const lines = area.value.split("\n");
  let start = 0;
  for (let i = 0; i < line - 1 && i < lines.length; i++) start += (lines[i]?.length ?? 0) + 1;
  const end = start + (lines[line - 1]?.length ?? 0);
  area.focus();
  area.setSelectionRange(start, end);
  const lineHeight = Number.parseFloat(getComputedStyle(area).lineHeight) || 18;
  area.scrollTop = Math.max(0, (line - 3) * lineHeight);
}

function issueText(i: DefinitionIssue): string {
  const where = i.line ? `line ${i.line}${i.column ? `:${i.column}` : ""}: ` : "";
  return `${where}${i.severity} ${i.code}: ${i.message}${i.path ? ` (at ${i.path})` : ""}`;
}

function field(
  id: string,
  label: string,
  value: string,
  set: (v: string) => void,
  extra: Record<string, unknown> = {},
): ComponentChild {
  return h(
    "div",
    { class: "field" },
    h("label", { for: id }, label),
    h("input", {
      id,
      value,
      onInput: (e: Event) => set((e.currentTarget as HTMLInputElement).value),
      ...extra,
    }),
  );
}

/** Paste or upload a file, see core's verdict and hash as you type, register it. */
export function NewEnv(props: {
  ws: Workspace;
  canWrite: boolean;
  onError: (e: unknown) => void;
}): ComponentChild {
  const [text, setText] = useState(EXAMPLE);
  const [format, setFormat] = useState<SourceFormat>("auto");
  const [name, setName] = useState("");
  const [description, setDescription] = useState("");
  const [tags, setTags] = useState("");
  const [analysis, setAnalysis] = useState<Analysis>(() => analyseSource({ format: "auto", text: EXAMPLE }));
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<{ res: RegisterResult; localHash: string } | null>(null);
  const [registerError, setRegisterError] = useState<string | null>(null);
  const area = useRef<HTMLTextAreaElement>(null);

  useEffect(() => {
    const t = setTimeout(() => setAnalysis(analyseSource({ format, text, name, description, tags })), 120);
    return () => clearTimeout(t);
  }, [format, text, name, description, tags]);

  const errors = analysis.issues.filter((i) => i.severity === "error");
  const warnings = analysis.issues.length - errors.length;
  const canRegister = props.canWrite && !busy && analysis.definition !== null && errors.length === 0;

  const upload = async (e: Event) => {
    const file = (e.currentTarget as HTMLInputElement).files?.[0];
    if (!file) return;
    const f = formatOfFile(file.name);
    setText(await file.text());
    setFormat(f ?? "auto");
  };

  const register = async (e: Event) => {
    e.preventDefault();
    // Validate the very text on screen (not a debounced copy) before sending it.
    const now = analyseSource({ format, text, name, description, tags });
    setAnalysis(now);
    if (!now.definition || !now.hash || now.issues.some((i) => i.severity === "error")) return;
    setBusy(true);
    setRegisterError(null);
    setResult(null);
    try {
      const res = await props.ws.environments.register({ definition: now.definition });
      setResult({ res, localHash: now.hash });
    } catch (err) {
      props.onError(err);
      setRegisterError(errorText(err));
    } finally {
      setBusy(false);
    }
  };

  const env = result?.res.environment;
  return h(
    PageFrame,
    { title: "New environment" },
    h(
      "form",
      { class: "new", onSubmit: register, "aria-label": "New environment" },
      h(
        "div",
        { class: "editor" },
        h(
          "div",
          { class: "toolbar" },
          h(
            "div",
            { class: "field" },
            h("label", { for: "format" }, "Format"),
            h(
              "select",
              {
                id: "format",
                value: format,
                onChange: (ev: Event) =>
                  setFormat((ev.currentTarget as HTMLSelectElement).value as SourceFormat),
              },
              h(
                "option",
                { value: "auto" },
                `Detect (${analysis.format === "yaml" ? "YAML" : analysis.format === "json" ? "JSON" : "requirements.txt"})`,
              ),
              h("option", { value: "yaml" }, "environment.yml or YAML definition"),
              h("option", { value: "requirements" }, "requirements.txt"),
              h("option", { value: "json" }, "JSON definition"),
            ),
          ),
          h(
            "div",
            { class: "field" },
            h("label", { for: "upload" }, "Upload a file"),
            h("input", { id: "upload", type: "file", accept: ".yml,.yaml,.txt,.json", onChange: upload }),
          ),
        ),
        h(
          "label",
          { for: "source" },
          "Environment file ",
          h("span", { class: "hint" }, `(checked as ${analysis.fileName})`),
        ),
        h("textarea", {
          id: "source",
          ref: area,
          value: text,
          spellcheck: false,
          autoComplete: "off",
          "aria-invalid": errors.length ? "true" : "false",
          "aria-describedby": "issues-title",
          onInput: (ev: Event) => setText((ev.currentTarget as HTMLTextAreaElement).value),
        }),
        field("env-name", "Name (overrides the file's)", name, setName, {
          placeholder: "e.g. my-env",
          autoComplete: "off",
        }),
        field("env-description", "Description", description, setDescription),
        field("env-tags", "Tags", tags, setTags, {
          placeholder: "team=vision, gpu",
          "aria-describedby": "tags-hint",
        }),
        h(
          "p",
          { id: "tags-hint", class: "hint" },
          "Comma-separated key=value pairs; a bare key has an empty value.",
        ),
      ),
      h(
        "section",
        { "aria-labelledby": "check-title" },
        h("h2", { id: "check-title" }, "Check"),
        h(
          "dl",
          { class: "facts" },
          h("dt", null, "Name"),
          h("dd", { id: "local-name" }, String(analysis.definition?.name ?? "—")),
          h("dt", null, "Definition hash"),
          h(
            "dd",
            null,
            h("output", { id: "local-hash", class: "hash", for: "source" }, analysis.hash ?? "—"),
          ),
        ),
        h(
          "h3",
          { id: "issues-title", "aria-live": "polite" },
          errors.length === 0 && warnings === 0
            ? "No problems found"
            : `${errors.length} error${errors.length === 1 ? "" : "s"}, ${warnings} warning${warnings === 1 ? "" : "s"}`,
        ),
        h(
          "ul",
          { class: "issues", "aria-labelledby": "issues-title" },
          analysis.issues.map((i, n) =>
            h(
              "li",
              { key: n, class: i.severity },
              h(
                "button",
                {
                  type: "button",
                  disabled: !i.line,
                  title: i.line ? `Go to line ${i.line}` : undefined,
                  onClick: () => i.line && area.current && selectLine(area.current, i.line),
                },
                issueText(i),
              ),
            ),
          ),
        ),
        h(
          "p",
          null,
          h(
            "button",
            { type: "submit", class: "primary", disabled: !canRegister },
            busy ? "Registering…" : "Register",
          ),
          props.canWrite ? null : h("span", { class: "hint" }, " Your token is read-only."),
        ),
        h(
          "div",
          { class: "status", "aria-live": "polite" },
          registerError ? h("div", { class: "alert", role: "alert" }, registerError) : null,
          env && result
            ? h(
                "div",
                { class: "ok", id: "register-result" },
                h(
                  "p",
                  null,
                  result.res.created
                    ? `Registered ${env.name} version ${env.version}. `
                    : `Unchanged: identical to ${env.name} version ${env.version}. `,
                  h("a", { href: href.env(env.name, env.version) }, "Open it"),
                ),
                h(
                  "p",
                  null,
                  "Server hash: ",
                  h("span", { class: "hash", id: "server-hash" }, env.definitionHash),
                ),
                h(
                  "p",
                  { id: "hash-verdict" },
                  env.definitionHash === result.localHash
                    ? "It equals the hash computed in this browser."
                    : "It differs from the hash computed in this browser: please report this.",
                ),
              )
            : null,
        ),
      ),
    ),
  );
}
