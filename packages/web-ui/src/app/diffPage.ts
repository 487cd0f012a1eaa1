import type { DefinitionDiff } from "@mlenv/core";
import type { Workspace } from "@mlenv/sdk";
import { type ComponentChild, h } from "preact";
import { ChangeSummary } from "./changeSummary";
import { definitionYaml } from "./definitionText";
import { type DiffRow, lineDiff } from "./lineDiff";
import { href } from "./route";
import { PageFrame, useAsync, VersionSelect } from "./util";

function cells(side: DiffRow["left"], kind: DiffRow["kind"], which: "left" | "right"): ComponentChild[] {
  if (!side) return [h("td", { class: "n empty" }), h("td", { class: "empty" })];
  const mark = kind === "same" ? "" : which === "left" ? "del" : "add";
  return [h("td", { class: `n ${mark}` }, String(side.line)), h("td", { class: mark }, side.text)];
}

/** Side-by-side diff of the definitions of two versions of one environment. */
export function DiffPage(props: {
  ws: Workspace;
  name: string;
  from: number;
  to: number;
  onError: (e: unknown) => void;
}): ComponentChild {
  const state = useAsync(async () => {
    const reg = props.ws.environments;
    try {
      const [versions, a, b, structured] = await Promise.all([
        reg.versions(props.name),
        reg.get(props.name, { version: props.from }),
        reg.get(props.name, { version: props.to }),
        reg.diff(props.name, props.from, props.to),
      ]);
      const rows = lineDiff(definitionYaml(a.definition ?? {}), definitionYaml(b.definition ?? {}));
      const changes = structured.changes as DefinitionDiff;
      return { versions: versions.items.map((v) => v.version), a, b, rows, changes };
    } catch (e) {
      props.onError(e);
      throw e;
    }
  }, [props.ws, props.name, props.from, props.to]);
  const d = state.data;
  const changed = d ? d.rows.filter((r) => r.kind !== "same").length : 0;
  return h(
    PageFrame,
    {
      crumbs: [
        [href.list(), "Environments"],
        [href.env(props.name), props.name],
      ],
      title: `Compare v${props.from} and v${props.to}`,
      error: state.error,
    },
    !d && !state.error ? h("p", { "aria-live": "polite" }, "Loading…") : null,
    d
      ? h(
          "div",
          null,
          h(
            "div",
            { class: "toolbar" },
            h(VersionSelect, {
              id: "from",
              label: "From version",
              value: props.from,
              versions: d.versions,
              onPick: (v) => {
                location.hash = href.diff(props.name, v, props.to);
              },
            }),
            h(VersionSelect, {
              id: "to",
              label: "To version",
              value: props.to,
              versions: d.versions,
              onPick: (v) => {
                location.hash = href.diff(props.name, props.from, v);
              },
            }),
          ),
          h(
            "div",
            { class: "summary", "aria-live": "polite" },
            h(
              "span",
              { id: "diff-summary" },
              d.a.definitionHash === d.b.definitionHash
                ? "The definitions are identical (same hash)."
                : `${changed} changed line${changed === 1 ? "" : "s"}`,
            ),
            h("span", { class: "hash", title: d.a.definitionHash }, `v${props.from}: ${d.a.definitionHash}`),
            h("span", { class: "hash", title: d.b.definitionHash }, `v${props.to}: ${d.b.definitionHash}`),
          ),
          h("h2", null, "What changed"),
          h(ChangeSummary, { diff: d.changes }),
          h("h2", null, "Definitions side by side"),
          h(
            "div",
            { class: "diffwrap", tabIndex: 0, role: "region", "aria-label": "Side-by-side definition diff" },
            h(
              "table",
              { class: "diff" },
              h(
                "caption",
                { class: "skip" },
                `Definition YAML of v${props.from} (left) and v${props.to} (right)`,
              ),
              h(
                "colgroup",
                null,
                h("col", { class: "n" }),
                h("col", null),
                h("col", { class: "n" }),
                h("col", null),
              ),
              h(
                "thead",
                null,
                h(
                  "tr",
                  null,
                  h("th", { colSpan: 2, scope: "col" }, `v${props.from}`),
                  h("th", { colSpan: 2, scope: "col" }, `v${props.to}`),
                ),
              ),
              h(
                "tbody",
                null,
                d.rows.map((r, i) =>
                  h(
                    "tr",
                    { key: i, "data-kind": r.kind },
                    ...cells(r.left, r.kind, "left"),
                    ...cells(r.right, r.kind, "right"),
                  ),
                ),
              ),
            ),
          ),
        )
      : null,
  );
}
