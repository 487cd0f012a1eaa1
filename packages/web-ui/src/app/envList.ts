import type { EnvironmentSummary, Workspace } from "@mlenv/sdk";
import { type ComponentChild, h } from "preact";
import { useState } from "preact/hooks";
import { href } from "./route";
import { CardList, ErrorBox, formatDate, PageFrame, useAsync } from "./util";

function matches(env: EnvironmentSummary, q: string): boolean {
  if (!q) return true;
  const hay = [env.name, env.description ?? "", ...Object.entries(env.tags).map(([k, v]) => `${k}=${v}`)]
    .join("\n")
    .toLowerCase();
  return q
    .toLowerCase()
    .split(/\s+/)
    .filter(Boolean)
    .every((word) => hay.includes(word));
}

function TagList(props: { tags: Record<string, string> }): ComponentChild {
  const entries = Object.entries(props.tags);
  if (entries.length === 0) return null;
  return h(
    "ul",
    { class: "tags", "aria-label": "Tags" },
    entries.map(([k, v]) => h("li", { class: "tag", key: k }, v ? `${k}=${v}` : k)),
  );
}

export { TagList };

/** Every environment of the workspace (latest version of each), searchable. */
export function EnvList(props: { ws: Workspace; onError: (e: unknown) => void }): ComponentChild {
  const [query, setQuery] = useState("");
  const [archived, setArchived] = useState(false);
  const state = useAsync(async () => {
    try {
      return await props.ws.environments.list({ archived: archived ? true : undefined });
    } catch (e) {
      props.onError(e);
      throw e;
    }
  }, [props.ws, archived]);
  const all = state.data ?? [];
  const shown = all.filter((e) => matches(e, query.trim()));
  return h(
    PageFrame,
    { title: "Environments" },
    h(
      "div",
      { class: "toolbar", role: "search" },
      h(
        "div",
        { class: "field" },
        h("label", { for: "search" }, "Search environments"),
        h("input", {
          id: "search",
          type: "search",
          placeholder: "name, tag or description",
          value: query,
          onInput: (e: Event) => setQuery((e.currentTarget as HTMLInputElement).value),
        }),
      ),
      h(
        "div",
        { class: "field" },
        h(
          "label",
          { class: "hint" },
          h("input", {
            type: "checkbox",
            checked: archived,
            onChange: (e: Event) => setArchived((e.currentTarget as HTMLInputElement).checked),
          }),
          " Include archived",
        ),
      ),
      h("a", { class: "button primary", href: href.create() }, "New environment"),
    ),
    state.error ? h(ErrorBox, { error: state.error }) : null,
    h(
      "p",
      { class: "meta", "aria-live": "polite", id: "env-count" },
      state.loading && !state.data
        ? "Loading…"
        : `${shown.length} of ${all.length} environment${all.length === 1 ? "" : "s"}`,
    ),
    h(CardList<EnvironmentSummary>, {
      items: shown,
      kind: "env",
      name: (env) => env.name,
      href: (env) => href.env(env.name),
      badges: (env) => [
        env.curated ? h("span", { class: "badge curated" }, "curated") : null,
        env.archived ? h("span", { class: "badge archived" }, "archived") : null,
        h("span", { class: "badge", title: `${env.versionCount} version(s)` }, `v${env.version}`),
      ],
      details: (env) => [
        env.description ? h("p", { class: "meta" }, env.description) : null,
        h(TagList, { tags: env.tags }),
        h("p", { class: "meta" }, `Updated ${formatDate(env.createdAt)} by ${env.createdBy}`),
      ],
      labelledBy: "page-title",
    }),
  );
}
