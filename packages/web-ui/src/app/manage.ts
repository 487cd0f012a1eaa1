import type { LabelInfo, Workspace } from "@mlenv/sdk";
import { type ComponentChild, h } from "preact";
import { useState } from "preact/hooks";
import { href } from "./route";
import { errorText } from "./session";

export interface ManageProps {
  ws: Workspace;
  name: string;
  versions: number[];
  current: number;
  labels: LabelInfo[];
  curated: boolean;
  archived: boolean;
  /** Reload the page's data after a change. */
  onChanged: () => void;
  onError: (e: unknown) => void;
}

const LABEL_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

/** Writer actions on one environment: move/remove labels, copy to a new name, archive/restore. */
export function Manage(props: ManageProps): ComponentChild {
  const [label, setLabel] = useState("");
  const [labelVersion, setLabelVersion] = useState(props.current);
  const [copyName, setCopyName] = useState("");
  const [status, setStatus] = useState<{ ok: boolean; text: string } | null>(null);
  const [busy, setBusy] = useState(false);

  const run = async (what: () => Promise<string>) => {
    setBusy(true);
    setStatus(null);
    try {
      setStatus({ ok: true, text: await what() });
      props.onChanged();
    } catch (e) {
      props.onError(e);
      setStatus({ ok: false, text: errorText(e) });
    } finally {
      setBusy(false);
    }
  };
  const reg = props.ws.environments;

  const submitLabel = (e: Event) => {
    e.preventDefault();
    const l = label.trim();
    if (!LABEL_RE.test(l)) {
      setStatus({
        ok: false,
        text: `Expected a label such as "production" (letters, digits, . _ -); received ${JSON.stringify(l).slice(0, 80)}`,
      });
      return;
    }
    void run(async () => {
      const info = await reg.setLabel(props.name, l, labelVersion);
      setLabel("");
      return `Label ${info.label} now points at v${info.version}.`;
    });
  };
  const submitCopy = (e: Event) => {
    e.preventDefault();
    const n = copyName.trim();
    void run(async () => {
      const res = await reg.clone(props.name, { newName: n, version: props.current });
      location.hash = href.env(res.environment.name);
      return `Copied v${props.current} to ${res.environment.name}.`;
    });
  };

  return h(
    "section",
    { "aria-labelledby": "manage-title" },
    h("h2", { id: "manage-title" }, "Manage"),
    h(
      "div",
      { class: "status", role: "status" },
      status ? h("div", { class: status.ok ? "ok" : "alert" }, status.text) : null,
    ),
    props.curated
      ? h("p", { class: "meta" }, "Curated environments are read-only: copy one to change it.")
      : h(
          "div",
          null,
          h(
            "form",
            { class: "toolbar", onSubmit: submitLabel, "aria-label": "Set a label" },
            h(
              "div",
              { class: "field" },
              h("label", { for: "label-name" }, "Label"),
              h("input", {
                id: "label-name",
                value: label,
                placeholder: "production",
                autoComplete: "off",
                onInput: (e: Event) => setLabel((e.currentTarget as HTMLInputElement).value),
              }),
            ),
            h(
              "div",
              { class: "field" },
              h("label", { for: "label-version" }, "Points at"),
              h(
                "select",
                {
                  id: "label-version",
                  value: String(labelVersion),
                  onChange: (e: Event) =>
                    setLabelVersion(Number((e.currentTarget as HTMLSelectElement).value)),
                },
                props.versions.map((v) => h("option", { key: v, value: String(v) }, `v${v}`)),
              ),
            ),
            h("button", { type: "submit", disabled: busy }, "Set label"),
          ),
          props.labels.length
            ? h(
                "ul",
                { class: "tags", "aria-label": "Remove labels" },
                props.labels.map((l) =>
                  h(
                    "li",
                    { key: l.label },
                    h(
                      "button",
                      {
                        type: "button",
                        disabled: busy,
                        "aria-label": `Remove label ${l.label}`,
                        onClick: () =>
                          run(async () => {
                            await reg.deleteLabel(props.name, l.label);
                            return `Label ${l.label} removed.`;
                          }),
                      },
                      `✕ ${l.label}`,
                    ),
                  ),
                ),
              )
            : null,
        ),
    h(
      "form",
      { class: "toolbar", onSubmit: submitCopy, "aria-label": "Copy to a new environment" },
      h(
        "div",
        { class: "field" },
        h("label", { for: "copy-name" }, `Copy v${props.current} as`),
        h("input", {
          id: "copy-name",
          value: copyName,
          required: true,
          placeholder: "my-env",
          autoComplete: "off",
          onInput: (e: Event) => setCopyName((e.currentTarget as HTMLInputElement).value),
        }),
      ),
      h("button", { type: "submit", disabled: busy || !copyName.trim() }, "Copy"),
    ),
    props.curated
      ? null
      : h(
          "p",
          null,
          h(
            "button",
            {
              type: "button",
              disabled: busy,
              onClick: () =>
                run(async () => {
                  if (props.archived) {
                    await reg.restore(props.name);
                    return `${props.name} restored: it is listed again.`;
                  }
                  await reg.archive(props.name);
                  return `${props.name} archived: hidden from the list, still readable.`;
                }),
            },
            props.archived ? "Restore" : "Archive",
          ),
        ),
  );
}
