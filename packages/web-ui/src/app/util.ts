import { type ComponentChild, type ComponentChildren, Fragment, h } from "preact";
import { useEffect, useLayoutEffect, useRef, useState } from "preact/hooks";
import { errorText } from "./session";

export interface AsyncState<T> {
  data: T | undefined;
  error: unknown;
  loading: boolean;
}

/** Run `fn` whenever `deps` change; results of stale runs are dropped. */
export function useAsync<T>(fn: () => Promise<T>, deps: unknown[]): AsyncState<T> {
  const [state, setState] = useState<AsyncState<T>>({ data: undefined, error: undefined, loading: true });
  useEffect(() => {
    let live = true;
    setState((s) => ({ data: s.data, error: undefined, loading: true }));
    fn().then(
      (data) => live && setState({ data, error: undefined, loading: false }),
      (error: unknown) => live && setState({ data: undefined, error, loading: false }),
    );
    return () => {
      live = false;
    };
  }, deps);
  return state;
}

export function ErrorBox(props: { error: unknown }): ComponentChild {
  return h("div", { class: "alert", role: "alert" }, errorText(props.error));
}

/** The page heading; takes focus when the page changes so screen readers announce it. */
export function PageTitle(props: { children: ComponentChildren }): ComponentChild {
  const ref = useRef<HTMLHeadingElement>(null);
  useLayoutEffect(() => {
    ref.current?.focus();
  }, []);
  return h("h1", { ref, tabIndex: -1, id: "page-title" }, props.children);
}

/**
 * A page: its `main` landmark with the breadcrumbs (when given), the heading (see PageTitle), the
 * error box (when there is an error), then `children`.
 */
export function PageFrame(props: {
  crumbs?: ReadonlyArray<readonly [href: string, label: string] | null>;
  title: ComponentChildren;
  error?: unknown;
  children?: ComponentChildren;
}): ComponentChild {
  return h(
    "main",
    { id: "main" },
    props.crumbs ? h(Breadcrumbs, { links: props.crumbs }) : null,
    h(PageTitle, null, props.title),
    props.error ? h(ErrorBox, { error: props.error }) : null,
    props.children,
  );
}

export function formatDate(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toISOString().replace("T", " ").slice(0, 16);
}

/** `mlenv1-sha256:abcdef…` shortened for lists (the full hash stays in the title). */
export function shortHash(hash: string): string {
  const i = hash.indexOf(":");
  return i < 0 ? hash.slice(0, 12) : `${hash.slice(0, i + 1)}${hash.slice(i + 1, i + 13)}`;
}

export interface TabSpec {
  id: string;
  label: string;
  render: () => ComponentChildren;
}

/** WAI-ARIA tabs: arrow keys, Home and End move between tabs. */
export function Tabs(props: { label: string; tabs: TabSpec[]; idPrefix: string }): ComponentChild {
  const [active, setActive] = useState(props.tabs[0]?.id ?? "");
  const refs = useRef<Record<string, HTMLButtonElement | null>>({});
  const ids = props.tabs.map((t) => t.id);
  const move = (e: KeyboardEvent, id: string) => {
    const i = ids.indexOf(id);
    let next: number | null = null;
    if (e.key === "ArrowRight") next = (i + 1) % ids.length;
    else if (e.key === "ArrowLeft") next = (i - 1 + ids.length) % ids.length;
    else if (e.key === "Home") next = 0;
    else if (e.key === "End") next = ids.length - 1;
    if (next === null) return;
    e.preventDefault();
    const nextId = ids[next]!;
    setActive(nextId);
    refs.current[nextId]?.focus();
  };
  const current = props.tabs.find((t) => t.id === active) ?? props.tabs[0];
  return h(
    "div",
    null,
    h(
      "div",
      { role: "tablist", "aria-label": props.label },
      props.tabs.map((t) =>
        h(
          "button",
          {
            type: "button",
            role: "tab",
            id: `${props.idPrefix}-tab-${t.id}`,
            "aria-selected": t.id === current?.id ? "true" : "false",
            "aria-controls": `${props.idPrefix}-panel`,
            tabIndex: t.id === current?.id ? 0 : -1,
            ref: (el: HTMLButtonElement | null) => {
              refs.current[t.id] = el;
            },
            onClick: () => setActive(t.id),
            onKeyDown: (e: KeyboardEvent) => move(e, t.id),
          },
          t.label,
        ),
      ),
    ),
    current
      ? h(
          "div",
          {
            role: "tabpanel",
            id: `${props.idPrefix}-panel`,
            "aria-labelledby": `${props.idPrefix}-tab-${current.id}`,
            tabIndex: 0,
          },
          current.render(),
        )
      : null,
  );
}

/**
 * A list page's cards (`ul.envs`): one `li` per item, marked `data-<kind>` with its name, a title
 * line linking to it followed by its badges, then its details.
 */
export function CardList<T>(props: {
  items: readonly T[];
  /** The item kind, e.g. `env`: its `data-` attribute holds each item's name. */
  kind: string;
  name: (item: T) => string;
  href: (item: T) => string;
  badges: (item: T) => ComponentChild[];
  details: (item: T) => ComponentChild[];
  /** The id of the element that labels the list. */
  labelledBy?: string;
}): ComponentChild {
  return h(
    "ul",
    { class: "envs", "aria-labelledby": props.labelledBy },
    props.items.map((item) =>
      h(
        "li",
        { key: props.name(item), [`data-${props.kind}`]: props.name(item) },
        h(
          "div",
          { class: "title" },
          h("a", { href: props.href(item) }, props.name(item)),
          ...props.badges(item),
        ),
        ...props.details(item),
      ),
    ),
  );
}

/** A run's, service's or build's status as a coloured badge (`id` names it for tests and links). */
export function StatusBadge(props: { status: string; id?: string }): ComponentChild {
  return h("span", { id: props.id, class: `badge status-${props.status}` }, props.status);
}

/** The Status row of a facts list (`dl`): the badge named `id`, then `note` (if any) after it. */
export function StatusFact(props: { id: string; status: string; note?: string }): ComponentChild {
  return h(
    Fragment,
    null,
    h("dt", null, "Status"),
    h("dd", null, h(StatusBadge, { id: props.id, status: props.status }), props.note ?? ""),
  );
}

/**
 * Log lines arriving one by one, appended once per burst (50 ms) rather than once per line, so a
 * chatty log renders a few times a second; nothing is appended once `signal` aborts.
 */
export function lineBatcher<L>(
  append: (batch: L[]) => void,
  signal: AbortSignal,
): { push: (line: L) => void; flush: () => void } {
  const pending: L[] = [];
  let timer: ReturnType<typeof setTimeout> | undefined;
  const flush = () => {
    clearTimeout(timer);
    timer = undefined;
    const batch = pending.splice(0);
    if (batch.length && !signal.aborted) append(batch);
  };
  return {
    push: (line) => {
      pending.push(line);
      timer ??= setTimeout(flush, 50);
    },
    flush,
  };
}

/** The trail above a page's title: each link followed by ` / ` (null entries are left out). */
export function Breadcrumbs(props: {
  links: ReadonlyArray<readonly [href: string, label: string] | null>;
}): ComponentChild {
  return h(
    "p",
    { class: "meta" },
    props.links.flatMap((link) => (link ? [h("a", { href: link[0] }, link[1]), " / "] : [])),
  );
}

/** A labelled select of an environment's versions (`v3`), reporting the picked number. */
export function VersionSelect(props: {
  id: string;
  label: string;
  value: number;
  versions: number[];
  onPick: (v: number) => void;
}): ComponentChild {
  return h(
    "div",
    { class: "field" },
    h("label", { for: props.id }, props.label),
    h(
      "select",
      {
        id: props.id,
        value: String(props.value),
        onChange: (e: Event) => props.onPick(Number((e.currentTarget as HTMLSelectElement).value)),
      },
      props.versions.map((v) => h("option", { key: v, value: String(v) }, `v${v}`)),
    ),
  );
}
