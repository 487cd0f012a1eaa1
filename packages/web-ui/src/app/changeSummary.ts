import type { DefinitionDiff, FieldChange, PackageChange } from "@mlenv/core";
import { type ComponentChild, h } from "preact";

function show(v: unknown): string {
  if (v === undefined) return "(absent)";
  if (typeof v === "string" && (v.includes("\n") || v.length > 80)) return `${v.split("\n").length} lines`;
  return JSON.stringify(v);
}

function packageRows(kind: string, changes: PackageChange[]): ComponentChild[] {
  return changes.map((c) =>
    h(
      "tr",
      { key: `${kind}:${c.name}`, "data-change": c.change },
      h("th", { scope: "row" }, c.name),
      h("td", null, kind),
      h("td", null, c.change),
      h("td", { class: "hash" }, c.old.join(", ") || "—"),
      h("td", { class: "hash" }, c.new.join(", ") || "—"),
    ),
  );
}

function fieldList(
  title: string,
  changes: Array<FieldChange | { path: string; old: unknown; new: unknown }>,
): ComponentChild {
  if (changes.length === 0) return null;
  return h(
    "div",
    null,
    h("h3", null, title),
    h(
      "ul",
      { class: "changes" },
      changes.map((c) =>
        h("li", { key: c.path }, h("code", null, c.path), `: ${show(c.old)} → ${show(c.new)}`),
      ),
    ),
  );
}

/** The structured diff the server computes with core (packages compared in normalised form). */
export function ChangeSummary(props: { diff: DefinitionDiff }): ComponentChild {
  const d = props.diff;
  if (d.equal) return h("p", { id: "change-summary" }, "No differences in the definitions.");
  const packages = [...packageRows("conda", d.conda), ...packageRows("pip", d.pip)];
  const lists: Array<{ path: string; old: unknown; new: unknown }> = [];
  if (d.channels) lists.push({ path: "channels", old: d.channels.old, new: d.channels.new });
  if (d.pipOptions) lists.push({ path: "pip options", old: d.pipOptions.old, new: d.pipOptions.new });
  return h(
    "div",
    { id: "change-summary" },
    packages.length
      ? h(
          "div",
          { class: "diffwrap", role: "region", tabIndex: 0, "aria-label": "Package changes" },
          h(
            "table",
            { class: "changes" },
            h("caption", null, "Packages"),
            h(
              "thead",
              null,
              h(
                "tr",
                null,
                h("th", { scope: "col" }, "Package"),
                h("th", { scope: "col" }, "Kind"),
                h("th", { scope: "col" }, "Change"),
                h("th", { scope: "col" }, "Before"),
                h("th", { scope: "col" }, "After"),
              ),
            ),
            h("tbody", null, packages),
          ),
        )
      : null,
    fieldList("Channels and pip options", lists),
    fieldList(
      "Environment variables",
      d.environmentVariables.map((e) => ({ path: e.name, old: e.old ?? undefined, new: e.new ?? undefined })),
    ),
    fieldList("Docker", d.docker),
    fieldList("Other fields", d.other),
  );
}
