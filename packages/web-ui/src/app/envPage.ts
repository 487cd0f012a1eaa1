import { serializeLock, validateLock } from "@mlenv/core";
import type { EnvironmentVersion, LabelInfo, VersionSummary, Workspace } from "@mlenv/sdk";
import { type ComponentChild, h } from "preact";
import { useState } from "preact/hooks";
import { definitionJson, definitionYaml, dockerfileOf } from "./definitionText";
import { TagList } from "./envList";
import { ImageSection } from "./imageSection";
import { Manage } from "./manage";
import { href } from "./route";
import { ErrorBox, formatDate, PageFrame, shortHash, Tabs, useAsync, VersionSelect } from "./util";

interface EnvData {
  versions: VersionSummary[];
  archived: boolean;
  current: EnvironmentVersion;
  labels: LabelInfo[];
  /** The stored mlenv.lock as YAML, when the version is locked. */
  lockYaml: string | null;
}

async function load(ws: Workspace, name: string, version: number | null): Promise<EnvData> {
  const reg = ws.environments;
  const [versions, current, labels] = await Promise.all([
    reg.versions(name),
    reg.get(name, version ? { version } : {}),
    reg.labels(name),
  ]);
  const lockYaml = current.locked ? serializeLock(validateLock(await reg.lock(name, current.version))) : null;
  return { versions: versions.items, archived: versions.archived, current, labels: labels.items, lockYaml };
}

function Code(props: { text: string; label: string }): ComponentChild {
  return h("pre", { class: "code", "aria-label": props.label, tabIndex: 0 }, h("code", null, props.text));
}

function DiffPicker(props: { name: string; versions: number[]; current: number }): ComponentChild {
  const latest = props.versions[props.versions.length - 1] ?? 1;
  const defaultFrom =
    props.current === latest && props.versions.length > 1
      ? props.versions[props.versions.length - 2]!
      : props.current;
  const [from, setFrom] = useState(defaultFrom);
  const [to, setTo] = useState(props.current === defaultFrom ? latest : props.current);
  const go = (e: Event) => {
    e.preventDefault();
    location.hash = href.diff(props.name, from, to);
  };
  return h(
    "form",
    { class: "toolbar", onSubmit: go, "aria-label": "Compare two versions" },
    h(VersionSelect, {
      id: "diff-from",
      label: "From version",
      value: from,
      versions: props.versions,
      onPick: setFrom,
    }),
    h(VersionSelect, {
      id: "diff-to",
      label: "To version",
      value: to,
      versions: props.versions,
      onPick: setTo,
    }),
    h("button", { type: "submit" }, "Compare"),
  );
}

/** One environment: version timeline, the selected version's definition, Dockerfile, labels. */
export function EnvPage(props: {
  ws: Workspace;
  name: string;
  version: number | null;
  canWrite: boolean;
  onError: (e: unknown) => void;
}): ComponentChild {
  const [tick, setTick] = useState(0);
  const state = useAsync(async () => {
    try {
      return await load(props.ws, props.name, props.version);
    } catch (e) {
      props.onError(e);
      throw e;
    }
  }, [props.ws, props.name, props.version, tick]);
  const d = state.data;
  const body = state.error
    ? h(ErrorBox, { error: state.error })
    : !d
      ? h("p", { "aria-live": "polite" }, "Loading…")
      : h(EnvBody, {
          data: d,
          name: props.name,
          image: h(ImageSection, {
            ws: props.ws,
            name: props.name,
            version: d.current.version,
            canWrite: props.canWrite,
            onError: props.onError,
          }),
          manage: props.canWrite
            ? h(Manage, {
                ws: props.ws,
                name: props.name,
                versions: d.versions.map((v) => v.version),
                current: d.current.version,
                labels: d.labels,
                curated: d.current.curated,
                archived: d.archived,
                onChanged: () => setTick((t) => t + 1),
                onError: props.onError,
                key: `${props.name}@${d.current.version}`,
              })
            : null,
        });
  return h(
    PageFrame,
    {
      crumbs: [[href.list(), "Environments"]],
      title: [
        props.name,
        d?.current.curated ? h("span", { class: "badge curated" }, " curated") : null,
        d?.archived ? h("span", { class: "badge archived" }, " archived") : null,
      ],
    },
    body,
  );
}

function EnvBody(props: {
  data: EnvData;
  name: string;
  image: ComponentChild;
  manage: ComponentChild;
}): ComponentChild {
  const { versions, current, labels } = props.data;
  const def = current.definition ?? {};
  const docker = dockerfileOf(def);
  const newestFirst = [...versions].reverse();
  return h(
    "div",
    { class: "layout" },
    h(
      "nav",
      { "aria-labelledby": "timeline-title" },
      h("h2", { id: "timeline-title" }, "Versions"),
      h(
        "ol",
        { class: "timeline" },
        newestFirst.map((v) =>
          h(
            "li",
            { key: v.version, class: v.version === current.version ? "current" : undefined },
            h(
              "a",
              {
                href: href.env(props.name, v.version),
                "aria-current": v.version === current.version ? "page" : undefined,
              },
              `v${v.version}`,
            ),
            v.labels.length ? ` (${v.labels.join(", ")})` : "",
            h("div", { class: "meta" }, formatDate(v.createdAt), " · ", v.createdBy),
            h("div", { class: "hash", title: v.definitionHash }, shortHash(v.definitionHash)),
          ),
        ),
      ),
    ),
    h(
      "section",
      { "aria-labelledby": "version-title" },
      h("h2", { id: "version-title" }, `Version ${current.version}`),
      h(
        "dl",
        { class: "facts" },
        h("dt", null, "Definition hash"),
        h("dd", { class: "hash", id: "definition-hash" }, current.definitionHash),
        h("dt", null, "Registered"),
        h("dd", null, `${formatDate(current.createdAt)} by ${current.createdBy}`),
        h("dt", null, "Description"),
        h("dd", null, current.description ?? "—"),
        h("dt", null, "Tags"),
        h("dd", null, Object.keys(current.tags).length ? h(TagList, { tags: current.tags }) : "—"),
        h("dt", null, "Labels"),
        h(
          "dd",
          null,
          labels.length
            ? h(
                "ul",
                { class: "tags", "aria-label": "Labels" },
                labels.map((l) =>
                  h(
                    "li",
                    { class: "tag", key: l.label },
                    h("a", { href: href.env(props.name, l.version) }, `${l.label} → v${l.version}`),
                  ),
                ),
              )
            : "—",
        ),
      ),
      versions.length > 1
        ? h(
            "section",
            { "aria-labelledby": "compare-title" },
            h("h2", { id: "compare-title" }, "Compare versions"),
            h(DiffPicker, {
              name: props.name,
              versions: versions.map((v) => v.version),
              current: current.version,
            }),
          )
        : null,
      h("h2", { id: "def-title" }, "Definition"),
      h(Tabs, {
        label: "Definition views",
        idPrefix: `def-${current.version}`,
        tabs: [
          {
            id: "yaml",
            label: "YAML",
            render: () => h(Code, { text: definitionYaml(def), label: "Definition as YAML" }),
          },
          {
            id: "json",
            label: "JSON",
            render: () => h(Code, { text: definitionJson(def), label: "Definition as JSON" }),
          },
          {
            id: "dockerfile",
            label: "Dockerfile",
            render: () =>
              "text" in docker
                ? h(Code, { text: docker.text, label: "Rendered Dockerfile" })
                : h("div", { class: "alert", role: "alert" }, `Cannot render a Dockerfile: ${docker.error}`),
          },
          {
            id: "lock",
            label: "Lock",
            render: () =>
              props.data.lockYaml !== null
                ? h(Code, { text: props.data.lockYaml, label: "Lock as YAML" })
                : h(
                    "p",
                    { class: "meta" },
                    "This version is unlocked: its image is built from the definition as written. Register it with an mlenv.lock (mlenv env lock, then mlenv env register) to pin exact packages.",
                  ),
          },
        ],
      }),
      props.image,
      props.manage,
    ),
  );
}
