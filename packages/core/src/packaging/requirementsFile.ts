import { PackagingError, PackagingErrorCode, received } from "./errors";

/** Options found on one logical line (only non-default values are present). */
export interface RequirementLineOptions {
  index_url?: string;
  extra_index_urls?: string[];
  no_index?: boolean;
  find_links?: string[];
  editables?: string[];
  hashes?: Record<string, string[]>;
  config_settings?: Record<string, string>;
  trusted_hosts?: string[];
  pre?: boolean;
  prefer_binary?: boolean;
  require_hashes?: boolean;
  release_control?: { all_releases: string[]; only_final: string[] };
  format_control?: { no_binary: string[]; only_binary: string[] };
  features_enabled?: string[];
}

/** One logical line (after joining, comment stripping and ${VAR} expansion) with a requirement or options. */
export interface ParsedRequirementLine {
  /** The file it came from (path as resolved from the entry file, normalised). */
  file: string;
  /** First physical line of the logical line (1-based). */
  lineno: number;
  /** The requirement text (PEP 508, URL, path or editable target), or null for option-only lines. */
  requirement: string | null;
  isEditable: boolean;
  /** True when it came from a constraints file (-c). */
  constraint: boolean;
  options: RequirementLineOptions;
}

/** State after parsing: index URLs etc. (a finder that starts with no index URLs). */
export interface RequirementsGlobalOptions {
  index_urls: string[];
  find_links: string[];
  no_index: boolean;
  trusted_hosts: string[];
  format_control: { no_binary: string[]; only_binary: string[] };
  prefer_binary: boolean;
  release_control: { all_releases: string[]; only_final: string[] };
  require_hashes: boolean;
  features_enabled: string[];
}

export interface ParsedRequirementsFile {
  lines: ParsedRequirementLine[];
  global: RequirementsGlobalOptions;
}

/** Loads an included file (`-r`/`-c`); `path` is already resolved against the including file. */
export type RequirementsLoader = (path: string, from: { file: string; line: number }) => string;

export interface ParseRequirementsOptions {
  /** Name of the file being parsed (used for errors and to resolve includes). */
  file: string;
  /** Reads `-r`/`-c` includes; without it, includes are an error. */
  loader?: RequirementsLoader;
  /** Values for `${VAR}` expansion (only `[A-Z0-9_]+` names; unset or empty values are left as written). */
  env?: Readonly<Record<string, string | undefined>>;
  /** Parse the file as a constraints file. */
  constraint?: boolean;
}

/** pip's `--use-feature` choices. */
export const PIP_FEATURES = [
  "fast-deps",
  "inprocess-build-deps",
  "venv-isolation",
  "truststore",
  "no-binary-enable-wheel-cache",
  "build-constraint",
] as const;

const LINE_SPLIT_RE = /\r\n|[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]/;
const COMMENT_START_RE = /^(?:\s+)?#/;
const COMMENT_RE = /(^|\s+)#.*$/;
const ENV_VAR_RE = /\$\{([A-Z0-9_]+)\}/g;
const URL_RE = /^[a-z][a-z0-9+.-]*:\/\//i;

function fail(message: string, file: string, line: number, cause?: unknown): PackagingError {
  return new PackagingError(PackagingErrorCode.REQUIREMENTS_FILE_INVALID, `${file}:${line}: ${message}`, {
    file,
    line,
    ...(cause === undefined ? {} : { cause }),
  });
}

/** Join `\`-continued physical lines; each result carries its first physical line number. */
export function joinRequirementLines(lines: readonly string[]): [number, string][] {
  const out: [number, string][] = [];
  let primary = 0;
  let pending: string[] = [];
  lines.forEach((raw, i) => {
    const n = i + 1;
    let line = raw;
    const isComment = COMMENT_START_RE.test(line);
    if (!line.endsWith("\\") || isComment) {
      if (isComment) line = ` ${line}`;
      if (pending.length > 0) {
        pending.push(line);
        out.push([primary, pending.join("")]);
        pending = [];
      } else out.push([n, line]);
    } else {
      if (pending.length === 0) primary = n;
      pending.push(line.replace(/^\\+|\\+$/g, ""));
    }
  });
  if (pending.length > 0) out.push([primary, pending.join("")]);
  return out;
}

/** Strip comments (`#` at line start or after whitespace) and drop empty lines. */
export function stripRequirementComments(lines: readonly [number, string][]): [number, string][] {
  const out: [number, string][] = [];
  for (const [n, l] of lines) {
    const s = l.replace(COMMENT_RE, "").trim();
    if (s !== "") out.push([n, s]);
  }
  return out;
}

/** Split a line into its argument part and its options part (options start at the first `-` token). */
export function splitRequirementOptions(line: string): [string, string] {
  const tokens = line.split(" ");
  const args: string[] = [];
  let i = 0;
  for (; i < tokens.length; i++) {
    if ((tokens[i] as string).startsWith("-")) break;
    args.push(tokens[i] as string);
  }
  return [args.join(" "), tokens.slice(i).join(" ")];
}

/** POSIX-shell-like word splitting (quotes and backslashes), as pip's shlex.split. */
function shellSplit(s: string): string[] | null {
  const out: string[] = [];
  let cur = "";
  let inWord = false;
  let i = 0;
  while (i < s.length) {
    const c = s[i] as string;
    if (c === "'") {
      const end = s.indexOf("'", i + 1);
      if (end < 0) return null;
      cur += s.slice(i + 1, end);
      inWord = true;
      i = end + 1;
    } else if (c === '"') {
      i++;
      let closed = false;
      while (i < s.length) {
        const d = s[i] as string;
        if (d === "\\" && i + 1 < s.length && '"\\$`'.includes(s[i + 1] as string)) {
          cur += s[i + 1];
          i += 2;
        } else if (d === '"') {
          closed = true;
          i++;
          break;
        } else {
          cur += d;
          i++;
        }
      }
      if (!closed) return null;
      inWord = true;
    } else if (c === "\\") {
      if (i + 1 >= s.length) return null;
      cur += s[i + 1];
      inWord = true;
      i += 2;
    } else if (/\s/.test(c)) {
      if (inWord) out.push(cur);
      cur = "";
      inWord = false;
      i++;
    } else {
      cur += c;
      inWord = true;
      i++;
    }
  }
  if (inWord) out.push(cur);
  return out;
}

type OptionKind = "value" | "flag";
const OPTIONS: Record<string, { dest: string; kind: OptionKind }> = {
  "-i": { dest: "index_url", kind: "value" },
  "--index-url": { dest: "index_url", kind: "value" },
  "--extra-index-url": { dest: "extra_index_urls", kind: "value" },
  "--no-index": { dest: "no_index", kind: "flag" },
  "-f": { dest: "find_links", kind: "value" },
  "--find-links": { dest: "find_links", kind: "value" },
  "-r": { dest: "requirements", kind: "value" },
  "--requirement": { dest: "requirements", kind: "value" },
  "-c": { dest: "constraints", kind: "value" },
  "--constraint": { dest: "constraints", kind: "value" },
  "-e": { dest: "editables", kind: "value" },
  "--editable": { dest: "editables", kind: "value" },
  "--no-binary": { dest: "no_binary", kind: "value" },
  "--only-binary": { dest: "only_binary", kind: "value" },
  "--prefer-binary": { dest: "prefer_binary", kind: "flag" },
  "--require-hashes": { dest: "require_hashes", kind: "flag" },
  "--pre": { dest: "pre", kind: "flag" },
  "--all-releases": { dest: "all_releases", kind: "value" },
  "--only-final": { dest: "only_final", kind: "value" },
  "--trusted-host": { dest: "trusted_hosts", kind: "value" },
  "--use-feature": { dest: "use_feature", kind: "value" },
  "--hash": { dest: "hashes", kind: "value" },
  "--config-settings": { dest: "config_settings", kind: "value" },
};
const PER_REQUIREMENT = new Set(["hashes", "config_settings"]);

interface Parsed {
  values: Map<string, string[]>;
  flags: Set<string>;
}

function parseOptions(text: string, file: string, line: number, whole: string): Parsed {
  const words = shellSplit(text);
  if (words === null)
    throw fail(
      `Expected balanced quotes in the options, e.g. --index-url 'https://…', received ${received(whole)}`,
      file,
      line,
    );
  const values = new Map<string, string[]>();
  const flags = new Set<string>();
  for (let i = 0; i < words.length; i++) {
    const w = words[i] as string;
    let name = w;
    let value: string | undefined;
    const eq = w.indexOf("=");
    if (w.startsWith("--") && eq > 0) {
      name = w.slice(0, eq);
      value = w.slice(eq + 1);
    } else if (/^-[a-z]./i.test(w) && !w.startsWith("--")) {
      name = w.slice(0, 2);
      value = w.slice(2);
    }
    const spec = OPTIONS[name];
    if (spec === undefined) {
      throw fail(
        `Expected a pip requirements-file option such as --index-url or --hash, received unknown option ${received(name)} in ${received(whole)}`,
        file,
        line,
      );
    }
    if (spec.kind === "flag") {
      flags.add(spec.dest);
      continue;
    }
    if (value === undefined) {
      i++;
      if (i >= words.length)
        throw fail(`Expected a value after ${name}, received ${received(whole)}`, file, line);
      value = words[i] as string;
    }
    const list = values.get(spec.dest) ?? [];
    list.push(value);
    values.set(spec.dest, list);
  }
  return { values, flags };
}

/** Normalise a relative POSIX path (`a/./b/../c` → `a/c`). */
function normalizePath(p: string): string {
  const abs = p.startsWith("/");
  const out: string[] = [];
  for (const seg of p.split("/")) {
    if (seg === "" || seg === ".") continue;
    if (seg === ".." && out.length > 0 && out[out.length - 1] !== "..") out.pop();
    else if (seg === ".." && abs) continue;
    else out.push(seg);
  }
  return (abs ? "/" : "") + out.join("/");
}

function resolveInclude(from: string, target: string): string {
  if (URL_RE.test(target)) return target;
  if (URL_RE.test(from)) return new URL(target, from).toString();
  if (target.startsWith("/")) return normalizePath(target);
  const dir = from.includes("/") ? from.slice(0, from.lastIndexOf("/")) : "";
  return normalizePath(dir === "" ? target : `${dir}/${target}`);
}

function emptyGlobal(): RequirementsGlobalOptions {
  return {
    index_urls: [],
    find_links: [],
    no_index: false,
    trusted_hosts: [],
    format_control: { no_binary: [], only_binary: [] },
    prefer_binary: false,
    release_control: { all_releases: [], only_final: [] },
    require_hashes: false,
    features_enabled: [],
  };
}

function splitList(v: string): string[] {
  return v.split(",").filter((x) => x !== "");
}

/**
 * A pair of comma-separated list options (`--no-binary`/`--only-binary`, ...) given as `dest`:
 * its values on that side, none on the other.
 */
function listPair<K extends string>(
  dest: string,
  pair: readonly [K, K],
  vals: string[],
): Record<K, string[]> {
  const values = vals.flatMap(splitList);
  const [a, b] = pair;
  return { [a]: dest === a ? values : [], [b]: dest === b ? values : [] } as Record<K, string[]>;
}

/**
 * Parse a pip requirements file with pip's full syntax: `\` continuations, comments (stripped
 * after joining), `${VAR}` expansion from `env`, `-r`/`-c` includes through `loader`, `-e`,
 * index/finder options, `--hash`, `--config-settings`, `--pre`. Errors name the file and line.
 */
export function parseRequirementsFile(
  text: string,
  options: ParseRequirementsOptions,
): ParsedRequirementsFile {
  const global = emptyGlobal();
  const lines: ParsedRequirementLine[] = [];
  const entry = URL_RE.test(options.file) ? options.file : normalizePath(options.file);
  parseInto(
    { text, file: entry, constraint: options.constraint ?? false, chain: [entry] },
    options,
    global,
    lines,
  );
  return { lines, global };
}

interface FileState {
  text: string;
  file: string;
  constraint: boolean;
  /** Files from the entry down to this one. */
  chain: string[];
}

function parseInto(
  state: FileState,
  options: ParseRequirementsOptions,
  global: RequirementsGlobalOptions,
  out: ParsedRequirementLine[],
): void {
  const { file } = state;
  const text = state.text.startsWith("\ufeff") ? state.text.slice(1) : state.text;
  const physical = text.split(LINE_SPLIT_RE);
  if (physical.length > 0 && physical[physical.length - 1] === "" && LINE_SPLIT_RE.test(text.slice(-2)))
    physical.pop();
  const env = options.env ?? {};
  for (const [lineno, rawLine] of stripRequirementComments(joinRequirementLines(physical))) {
    const line = rawLine.replace(ENV_VAR_RE, (whole, name: string) => {
      const v = env[name];
      return v ? v : whole;
    });
    const [args, opts] = splitRequirementOptions(line);
    const parsed = parseOptions(opts, file, lineno, line);
    const lineOptions: RequirementLineOptions = {};
    for (const f of parsed.flags) {
      if (f === "no_index") lineOptions.no_index = true;
      else if (f === "pre") lineOptions.pre = true;
      else if (f === "prefer_binary") lineOptions.prefer_binary = true;
      else if (f === "require_hashes") lineOptions.require_hashes = true;
    }
    const argText = args.trim();
    let requirement: string | null = argText === "" ? null : argText;
    let isEditable = false;
    for (const [dest, vals] of parsed.values) {
      if (requirement !== null && !PER_REQUIREMENT.has(dest)) {
        throw fail(
          `Expected only --hash or --config-settings after a requirement (global options go on their own line), received ${received(line)}`,
          file,
          lineno,
        );
      }
      switch (dest) {
        case "index_url":
          lineOptions.index_url = vals[vals.length - 1] as string;
          break;
        case "extra_index_urls":
          lineOptions.extra_index_urls = vals;
          break;
        case "find_links":
          lineOptions.find_links = vals;
          break;
        case "trusted_hosts":
          lineOptions.trusted_hosts = vals;
          break;
        case "editables":
          lineOptions.editables = vals;
          requirement = vals[0] as string;
          isEditable = true;
          break;
        case "no_binary":
        case "only_binary":
          lineOptions.format_control = listPair(dest, ["no_binary", "only_binary"], vals);
          break;
        case "all_releases":
        case "only_final":
          lineOptions.release_control = listPair(dest, ["all_releases", "only_final"], vals);
          break;
        case "use_feature":
          for (const v of vals) {
            if (!(PIP_FEATURES as readonly string[]).includes(v)) {
              throw fail(
                `Expected --use-feature to be one of ${PIP_FEATURES.join(", ")}, received ${received(v)}`,
                file,
                lineno,
              );
            }
            if (!global.features_enabled.includes(v)) global.features_enabled.push(v);
          }
          break;
        case "hashes": {
          const hashes: Record<string, string[]> = {};
          for (const v of vals) {
            const colon = v.indexOf(":");
            if (colon <= 0 || colon === v.length - 1) {
              throw fail(
                `Expected --hash to be a hash name followed by a value, like --hash=sha256:abcde…, received ${received(v)}`,
                file,
                lineno,
              );
            }
            const algo = v.slice(0, colon);
            const list = hashes[algo] ?? [];
            list.push(v.slice(colon + 1));
            hashes[algo] = list;
          }
          lineOptions.hashes = hashes;
          break;
        }
        case "config_settings": {
          const cs: Record<string, string> = {};
          for (const v of vals) {
            const eq = v.indexOf("=");
            if (eq <= 0)
              throw fail(`Expected --config-settings KEY=VALUE, received ${received(v)}`, file, lineno);
            cs[v.slice(0, eq)] = v.slice(eq + 1);
          }
          lineOptions.config_settings = cs;
          break;
        }
        case "requirements":
        case "constraints":
          for (const target of vals) {
            include(state, target, dest === "constraints" || state.constraint, lineno, options, global, out);
          }
          break;
      }
    }
    if (parsed.values.has("requirements") || parsed.values.has("constraints")) continue;
    applyGlobal(global, lineOptions);
    out.push({ file, lineno, requirement, isEditable, constraint: state.constraint, options: lineOptions });
  }
}

function include(
  state: FileState,
  target: string,
  constraint: boolean,
  lineno: number,
  options: ParseRequirementsOptions,
  global: RequirementsGlobalOptions,
  out: ParsedRequirementLine[],
): void {
  const path = resolveInclude(state.file, target);
  const at = state.chain.indexOf(path);
  if (at >= 0) {
    const parent = at > 0 ? ` and again in ${state.chain[at - 1]}` : "";
    throw fail(`${path} recursively references itself in ${state.file}${parent}`, state.file, lineno);
  }
  if (options.loader === undefined) {
    throw fail(`Expected a loader to read the included file ${received(path)}`, state.file, lineno);
  }
  let text: string;
  try {
    text = options.loader(path, { file: state.file, line: lineno });
  } catch (e) {
    throw fail(`Could not read included file ${received(path)}`, state.file, lineno, e);
  }
  parseInto({ text, file: path, constraint, chain: [...state.chain, path] }, options, global, out);
}

function applyGlobal(g: RequirementsGlobalOptions, o: RequirementLineOptions): void {
  if (o.no_index) {
    g.no_index = true;
    g.index_urls = [];
  }
  if (o.index_url !== undefined && !g.no_index) g.index_urls = [o.index_url];
  if (o.extra_index_urls !== undefined && !g.no_index) g.index_urls.push(...o.extra_index_urls);
  if (o.find_links !== undefined) g.find_links.push(...o.find_links);
  if (o.trusted_hosts !== undefined) g.trusted_hosts.push(...o.trusted_hosts);
  if (o.prefer_binary) g.prefer_binary = true;
  if (o.require_hashes) g.require_hashes = true;
  if (o.pre) g.release_control.all_releases = [":all:"];
  if (o.release_control !== undefined) {
    for (const x of o.release_control.all_releases)
      if (!g.release_control.all_releases.includes(x)) g.release_control.all_releases.push(x);
    for (const x of o.release_control.only_final)
      if (!g.release_control.only_final.includes(x)) g.release_control.only_final.push(x);
  }
  if (o.format_control !== undefined) {
    for (const x of o.format_control.no_binary) {
      g.format_control.only_binary = g.format_control.only_binary.filter((y) => y !== x);
      if (!g.format_control.no_binary.includes(x)) g.format_control.no_binary.push(x);
    }
    for (const x of o.format_control.only_binary) {
      g.format_control.no_binary = g.format_control.no_binary.filter((y) => y !== x);
      if (!g.format_control.only_binary.includes(x)) g.format_control.only_binary.push(x);
    }
  }
}

/**
 * Decode requirement-file bytes as pip does: a BOM first (UTF-8/16/32), then a PEP 263
 * `# coding=` header in the first two lines, else UTF-8.
 */
export function decodeRequirementsBytes(bytes: Uint8Array): string {
  const b = bytes;
  const starts = (...xs: number[]) => xs.every((x, i) => b[i] === x);
  if (starts(0xef, 0xbb, 0xbf)) return new TextDecoder("utf-8").decode(b.subarray(3));
  if (starts(0xff, 0xfe, 0x00, 0x00)) return decodeUtf32(b.subarray(4), true);
  if (starts(0x00, 0x00, 0xfe, 0xff)) return decodeUtf32(b.subarray(4), false);
  if (starts(0xff, 0xfe)) return new TextDecoder("utf-16le").decode(b.subarray(2));
  if (starts(0xfe, 0xff)) return new TextDecoder("utf-16be").decode(b.subarray(2));
  const head = new TextDecoder("latin1").decode(b.subarray(0, 400)).split(/\r?\n/).slice(0, 2);
  for (const l of head) {
    const m = /^[ \t\f]*#.*?coding[:=][ \t]*([-\w.]+)/.exec(l);
    if (m !== null) {
      try {
        return new TextDecoder(m[1] as string).decode(b);
      } catch {
        break;
      }
    }
  }
  return new TextDecoder("utf-8").decode(b);
}

function decodeUtf32(b: Uint8Array, little: boolean): string {
  let s = "";
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  for (let i = 0; i + 3 < b.length; i += 4) s += String.fromCodePoint(view.getUint32(i, little));
  return s;
}
