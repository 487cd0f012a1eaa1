import { memoize } from "../internal/memo";
import { VersionSpec } from "./condaVersionSpec";
import { PackagingError, PackagingErrorCode, received } from "./errors";

/** A conda package record as found in repodata (fields MatchSpec can match on). */
export interface CondaPackageRecord {
  name: string;
  version: string;
  build: string;
  build_number: number;
  channel?: string | null;
  subdir?: string | null;
  fn?: string | null;
  md5?: string | null;
  sha256?: string | null;
  url?: string | null;
  license?: string | null;
  license_family?: string | null;
  track_features?: string | readonly string[] | null;
  features?: string | readonly string[] | null;
  [key: string]: unknown;
}

/** Field values a MatchSpec can be built from (strings as in the bracket syntax). */
export interface MatchSpecFields {
  name?: string;
  version?: string;
  build?: string;
  build_number?: string | number;
  channel?: string;
  subdir?: string;
  md5?: string;
  sha256?: string;
  url?: string;
  fn?: string;
  license?: string;
  license_family?: string;
  track_features?: string | readonly string[];
  features?: string | readonly string[];
}

const FIELDS = [
  "channel",
  "subdir",
  "name",
  "version",
  "build",
  "build_number",
  "track_features",
  "features",
  "url",
  "md5",
  "sha256",
  "license",
  "license_family",
  "fn",
] as const;
type Field = (typeof FIELDS)[number];
const FIELD_SET = new Set<string>(FIELDS);

/** conda platform subdirectories (a channel URL ending in one of these names its subdir). */
export const CONDA_SUBDIRS = new Set([
  "noarch",
  "emscripten-wasm32",
  "wasi-wasm32",
  "freebsd-64",
  "linux-32",
  "linux-64",
  "linux-aarch64",
  "linux-armv6l",
  "linux-armv7l",
  "linux-ppc64",
  "linux-ppc64le",
  "linux-riscv64",
  "linux-s390x",
  "osx-64",
  "osx-arm64",
  "win-32",
  "win-64",
  "win-arm64",
  "zos-z",
]);

const CHANNEL_ALIAS = "https://conda.anaconda.org/";
const DEFAULTS_URL = "https://repo.anaconda.com/";
const DEFAULTS_MEMBERS = new Set(["pkgs/main", "pkgs/r"]);

function invalid(spec: string, why: string): PackagingError {
  return new PackagingError(
    PackagingErrorCode.MATCHSPEC_INVALID,
    `Expected a conda match spec such as "numpy >=1.20", "conda-forge::python=3.11" or "pytorch[build=cuda*]" (${why}), received ${received(spec)}`,
  );
}

/** Split a channel string into (channel name, subdir), conda-style. */
export function parseCondaChannel(value: string | null | undefined): {
  channel: string | null;
  subdir: string | null;
} {
  if (!value) return { channel: null, subdir: null };
  let v = value.replace(/\/+$/, "");
  let subdir: string | null = null;
  const slash = v.lastIndexOf("/");
  if (slash >= 0 && CONDA_SUBDIRS.has(v.slice(slash + 1))) {
    subdir = v.slice(slash + 1);
    v = v.slice(0, slash);
  }
  if (v.startsWith(CHANNEL_ALIAS)) v = v.slice(CHANNEL_ALIAS.length);
  else if (DEFAULTS_MEMBERS.has(v)) v = "defaults";
  return { channel: v, subdir };
}

/** The canonical name conda gives a channel URL (defaults members become "defaults"). */
function canonicalChannel(url: string): string {
  const v = url.replace(/\/+$/, "");
  if (v.startsWith(DEFAULTS_URL) && DEFAULTS_MEMBERS.has(v.slice(DEFAULTS_URL.length))) return "defaults";
  if (v.startsWith(CHANNEL_ALIAS)) return v.slice(CHANNEL_ALIAS.length);
  return v;
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

const BRACKET_RE = /^(.*)(\[.*\])/s;
const PARENS_RE = /^(.*)(\(.*\))/s;
const KV_RE = /([a-zA-Z0-9_-]+?)=(["']?)([^'"]*?)(\2)(?:[, ]|$)/g;
const NAME_SPLIT_RE = /^([^ =<>!~]+)?([><!=~ ].+)?/s;
const VERSION_BUILD_RE = /^((?:.+?)[^><!,|]?)(?:(?<![=!|,<>~])(?:[ =])([^-=,|<>~]+?))?$/s;
const NAME_RE = /^[a-z0-9_*](?:[a-z0-9_*]|[.-](?=[a-z0-9_*]))*$/;

type Raw = Partial<Record<Field, string | readonly string[]>> & {
  optional?: boolean;
  target?: string;
  when?: string;
  extras?: string;
  flags?: string;
};

/** Parser options: `syntax: "v3"` is conda's repodata-v3 form (when=, extras=, flags=, `[version<2]`). */
export interface MatchSpecParseOptions {
  syntax?: "v1" | "v3";
}

const V3_KEYS = new Set(["when", "extras", "flags"]);

/** Python-style list repr of sorted unique strings: ['a', 'b']. */
function listRepr(items: readonly string[]): string {
  return `[${[...new Set(items)]
    .sort()
    .map((x) => `'${x}'`)
    .join(", ")}]`;
}

/** Split a v3 bracket body into key/value pairs (quotes and nested brackets respected). */
function parseV3Brackets(body: string, input: string): Record<string, string> {
  const out: Record<string, string> = {};
  let i = 0;
  const n = body.length;
  const ws = () => {
    while (i < n && /\s/.test(body[i] as string)) i++;
  };
  while (true) {
    ws();
    if (i >= n) break;
    const km = /^[A-Za-z0-9_-]+/.exec(body.slice(i));
    if (km === null) throw invalid(input, "expected key=value in brackets");
    const key = km[0];
    i += key.length;
    ws();
    const om = /^(==|!=|<=|>=|<|>|=)/.exec(body.slice(i));
    if (om === null) throw invalid(input, `expected '=' after ${JSON.stringify(key)} in brackets`);
    i += om[0].length;
    const op = om[0] === "=" ? "" : om[0];
    if (op !== "" && key !== "version")
      throw invalid(input, `operator without '=' is only allowed for version`);
    ws();
    let value = "";
    let isList = false;
    const c = body[i];
    if (c === "'" || c === '"') {
      i++;
      let depth = 0;
      let closed = false;
      while (i < n) {
        const d = body[i] as string;
        if (d === "[") depth++;
        else if (d === "]") depth--;
        else if (d === c && depth <= 0) {
          closed = true;
          i++;
          break;
        }
        value += d;
        i++;
      }
      if (!closed) throw invalid(input, "unterminated quote in brackets");
    } else if (c === "[") {
      isList = true;
      let depth = 0;
      const start = i;
      while (i < n) {
        const d = body[i] as string;
        if (d === "[") depth++;
        else if (d === "]") {
          depth--;
          if (depth === 0) {
            i++;
            break;
          }
        }
        i++;
      }
      if (depth !== 0) throw invalid(input, "unbalanced '[' in a list value");
      value = body.slice(start + 1, i - 1);
    } else {
      let depth = 0;
      while (i < n) {
        const d = body[i] as string;
        if (d === "[") depth++;
        else if (d === "]") depth--;
        else if (depth === 0 && (d === "," || /\s/.test(d))) break;
        value += d;
        i++;
      }
      if (depth !== 0) throw invalid(input, "unbalanced brackets in a value");
    }
    if (key in out) throw invalid(input, `duplicate key ${JSON.stringify(key)} in brackets`);
    if (isList) {
      if (key !== "extras" && key !== "flags")
        throw invalid(input, `a list value is only allowed for extras and flags`);
      const items = value.split(",").map((x) => x.trim().replace(/^(['"])(.*)\1$/, "$2"));
      if (items.length > 0 && items[items.length - 1] === "") items.pop();
      if (items.length === 0 || items.some((x) => x === "")) throw invalid(input, `empty item in ${key}`);
      out[key] = listRepr(items);
    } else {
      if (value.trim() === "") throw invalid(input, `empty value for ${JSON.stringify(key)}`);
      out[key] = key === "extras" || key === "flags" ? listRepr([value.trim()]) : op + value;
    }
    ws();
    if (i < n) {
      if (body[i] !== ",") throw invalid(input, "expected ',' between bracket entries");
      i++;
    }
  }
  return out;
}

function parseLegacyDist(fn: string): { name: string; version: string; build: string } {
  const base = fn.replace(/\.(tar\.bz2|conda)$/, "");
  const parts = base.split("-");
  const build = parts.pop() ?? "";
  const version = parts.pop() ?? "";
  return { name: parts.join("-"), version, build };
}

/** conda's `_parse_spec_str`: the raw component strings of a spec. */
export function parseMatchSpecString(input: string, options: MatchSpecParseOptions = {}): Raw {
  const v3 = options.syntax === "v3";
  let spec = input;
  if (spec.endsWith("@")) return { name: "*", track_features: spec.slice(0, -1) };
  const hash = spec.indexOf("#");
  if (hash >= 0) spec = spec.slice(0, hash);
  if (v3 && spec.includes(" if "))
    throw invalid(input, "conditional ' if ' specs are not supported; use [when=...]");
  spec = (spec.split(" if ", 1)[0] as string).trim();
  if (spec.endsWith(".tar.bz2") || spec.endsWith(".conda")) {
    const url = spec.includes("://") ? spec : spec.startsWith("/") ? `file://${spec}` : spec;
    const decoded = safeDecode(url);
    const path = decoded.replace(/^[a-z]+:\/\/[^/]*/, "");
    const segs = decoded.split("/");
    const fn = segs.pop() ?? "";
    const maybeSubdir = segs[segs.length - 1] ?? "";
    if (CONDA_SUBDIRS.has(maybeSubdir) && path.split("/").length > 2) {
      segs.pop();
      const d = parseLegacyDist(fn);
      return { channel: canonicalChannel(segs.join("/")), subdir: maybeSubdir, ...d, fn, url };
    }
    return { name: "*", fn, url };
  }
  let brackets: Record<string, string> = {};
  const open = v3 ? spec.indexOf("[") : -1;
  const m3 = v3 ? null : BRACKET_RE.exec(spec);
  if (v3 && open >= 0) {
    if (!spec.endsWith("]")) throw invalid(input, "the bracket section must close the spec");
    const body = spec.slice(open + 1, -1);
    let depth = 0;
    for (const ch of body) {
      if (ch === "[") depth++;
      else if (ch === "]" && --depth < 0) throw invalid(input, "only one bracket section is allowed");
    }
    brackets = parseV3Brackets(body, input);
    spec = spec.slice(0, open);
  } else if (m3 !== null) {
    const b = m3[2] as string;
    spec = spec.replace(b, "");
    for (const m of b.slice(1, -1).matchAll(KV_RE)) {
      const key = m[1] as string;
      const value = m[3] as string;
      if (!key || !value) throw invalid(input, "key-value mismatch in brackets");
      brackets[key] = value;
    }
    if (b.slice(1, -1).trim() !== "" && Object.keys(brackets).length === 0)
      throw invalid(input, "key-value mismatch in brackets");
  }
  // A legacy "(target=...,optional)" section is dropped, as conda does when parsing.
  const m4 = PARENS_RE.exec(spec);
  if (m4 !== null) spec = spec.replace(m4[2] as string, "");
  const colon = spec.split(":");
  let channelStr: string | null = null;
  if (colon.length >= 3) {
    spec = colon.pop() as string;
    colon.pop();
    channelStr = colon.join(":");
  } else if (colon.length === 2) spec = colon[1] as string;
  let { channel, subdir } = parseCondaChannel(channelStr);
  if (brackets.channel !== undefined) {
    const b = parseCondaChannel(brackets.channel);
    delete brackets.channel;
    if (b.channel) channel = b.channel;
    if (b.subdir) subdir = b.subdir;
  }
  if (brackets.subdir !== undefined) {
    subdir = brackets.subdir;
    delete brackets.subdir;
  }
  const m6 = NAME_SPLIT_RE.exec(spec);
  if (m6 === null || m6[1] === undefined) throw invalid(input, "no package name found");
  const name = m6[1];
  let rest = m6[2]?.trim() ?? "";
  let version: string | undefined;
  let build: string | undefined;
  if (rest !== "") {
    if (rest.includes("[")) throw invalid(input, "multiple bracket sections are not allowed");
    const vb = VERSION_BUILD_RE.exec(rest);
    if (vb !== null) {
      version = vb[1]?.replaceAll(" ", "");
      build = vb[2]?.trim();
    } else version = rest.replaceAll(" ", "");
    rest = "";
    if (version !== undefined && version !== "==" && version !== "=" && version.startsWith("=")) {
      const test = version.slice(1);
      if (version.startsWith("==") && build === undefined) version = version.slice(2);
      else if (!/[=,|]/.test(test)) version = build === undefined && !test.endsWith("*") ? `${test}*` : test;
    }
  }
  const out: Raw = { name };
  if (channel !== null) out.channel = channel;
  if (subdir !== null) out.subdir = subdir;
  if (version !== undefined) out.version = version;
  if (build !== undefined) out.build = build;
  delete brackets.name;
  for (const [k, v] of Object.entries(brackets)) {
    if (v3 && V3_KEYS.has(k)) {
      out[k as "when" | "extras" | "flags"] = v;
      continue;
    }
    if (!FIELD_SET.has(k)) throw invalid(input, `unknown key ${JSON.stringify(k)} in brackets`);
    out[k as Field] = v;
  }
  return out;
}

function globToRegExp(glob: string, flags = ""): RegExp {
  const body = glob.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replaceAll("*", ".*");
  return new RegExp(`^${body}$`, flags);
}

type Test = (record: CondaPackageRecord) => boolean;

function strMatcher(value: string, get: (r: CondaPackageRecord) => unknown, caseInsensitive = false): Test {
  if (value.startsWith("^") && value.endsWith("$")) {
    const re = new RegExp(value, caseInsensitive ? "i" : "");
    return (r) => {
      const x = get(r);
      return typeof x === "string" && re.test(x);
    };
  }
  if (value.includes("*")) {
    const re = globToRegExp(value, caseInsensitive ? "i" : "");
    return (r) => {
      const x = get(r);
      return typeof x === "string" && re.test(x);
    };
  }
  const want = caseInsensitive ? value.toLowerCase() : value;
  return (r) => {
    const x = get(r);
    return typeof x === "string" && (caseInsensitive ? x.toLowerCase() : x) === want;
  };
}

const BUILD_NUMBER_RE = /^(==|!=|<=|>=|<|>|=)?\s*(\d+)$/;

function buildNumberMatcher(spec: string, input: string): Test {
  const m = BUILD_NUMBER_RE.exec(spec.trim());
  if (m === null) throw invalid(input, "build_number must be an integer, optionally with an operator");
  const n = Number(m[2]);
  const op = m[1] ?? "==";
  return (r) => {
    const b = Number(r.build_number);
    switch (op) {
      case "!=":
        return b !== n;
      case "<":
        return b < n;
      case "<=":
        return b <= n;
      case ">":
        return b > n;
      case ">=":
        return b >= n;
      default:
        return b === n;
    }
  };
}

function featureSet(v: string | readonly string[] | null | undefined): string[] {
  if (v === null || v === undefined) return [];
  const list = typeof v === "string" ? v.split(/[\s,]+/) : v.flatMap((x) => x.split(/[\s,]+/));
  return [...new Set(list.filter((x) => x !== ""))].sort();
}

/** A channel (name or URL, subdir stripped) as a URL; "defaults" stays "defaults". Cached. */
const channelUrl = memoize(10_000, channelUrlUncached);

function channelUrlUncached(value: string): string {
  let v = value.replace(/\/+$/, "");
  const slash = v.lastIndexOf("/");
  if (slash >= 0 && CONDA_SUBDIRS.has(v.slice(slash + 1))) v = v.slice(0, slash);
  if (v === "defaults" || v.includes("://")) return v;
  if (DEFAULTS_MEMBERS.has(v)) return DEFAULTS_URL + v;
  return CHANNEL_ALIAS + v;
}

/** Does a record's channel satisfy the spec's channel? ("defaults" covers its member channels.) */
export function condaChannelMatches(specChannel: string, recordChannel: string | null | undefined): boolean {
  if (specChannel === "*") return true;
  if (recordChannel === null || recordChannel === undefined || recordChannel === "<unknown>") return false;
  if (specChannel.includes("*"))
    return globToRegExp(specChannel).test(parseCondaChannel(recordChannel).channel ?? "");
  const rec = channelUrl(recordChannel);
  if (specChannel === "defaults") {
    return (
      rec === "defaults" ||
      (rec.startsWith(DEFAULTS_URL) && DEFAULTS_MEMBERS.has(rec.slice(DEFAULTS_URL.length)))
    );
  }
  const spec = channelUrl(specChannel);
  if (spec === rec) return true;
  if (specChannel.includes("://") || rec === "defaults") return false;
  // A channel name also matches a channel URL on another host ending in that name.
  const name = parseCondaChannel(specChannel).channel ?? "";
  return rec.endsWith(`/${name}`);
}

/** Parsed specs by syntax: `syntax: "v3"` reads the same text differently. */
const parsedSpecs = {
  v1: memoize(20_000, (spec) => new MatchSpec(spec, {}, {})),
  v3: memoize(20_000, (spec) => new MatchSpec(spec, {}, { syntax: "v3" })),
};

/** A conda MatchSpec: parse, canonical string, and matching against package records. */
export class MatchSpec {
  /**
   * Component values as conda prints them (`version` canonical, e.g. "1.7.*"). With the v3
   * syntax also `when` (a condition on the environment; not checked by match) and `extras` /
   * `flags` (as a sorted list repr, e.g. "['a', 'b']").
   */
  readonly components: Readonly<Partial<Record<Field | "when" | "extras" | "flags", string>>>;
  readonly optional: boolean;
  readonly target: string | null;
  private readonly tests: Test[];
  private readonly versionSpec: VersionSpec | null;
  private readonly text: string;

  constructor(
    spec: string | MatchSpecFields | null,
    fields: MatchSpecFields & { optional?: boolean; target?: string | null } = {},
    options: MatchSpecParseOptions = {},
  ) {
    const input = typeof spec === "string" ? spec : JSON.stringify({ ...spec, ...fields });
    let raw: Raw =
      typeof spec === "string" ? parseMatchSpecString(spec, options) : spec === null ? {} : toRaw(spec);
    const { optional, target, ...rest } = fields;
    raw = { ...raw, ...toRaw(rest) };
    const c: Partial<Record<Field | "when" | "extras" | "flags", string>> = {};
    const tests: Test[] = [];
    let versionSpec: VersionSpec | null = null;
    const name = typeof raw.name === "string" ? raw.name.toLowerCase() : "*";
    if (!NAME_RE.test(name)) throw invalid(input, "invalid package name");
    if (name !== "*") {
      c.name = name;
      if (name.includes("*") || name.startsWith("^"))
        tests.push(strMatcher(name, (r) => r.name?.toLowerCase()));
      else
        tests.push((r) => r.name === name || (typeof r.name === "string" && r.name.toLowerCase() === name));
    } else if (raw.name !== undefined) c.name = "*";
    for (const f of FIELDS) {
      if (f === "name") continue;
      const v = raw[f];
      if (v === undefined) continue;
      switch (f) {
        case "version": {
          let text = String(v).trim();
          const rest = text.slice(text.startsWith("==") ? 2 : 1);
          if (text.startsWith("==") && !/[=,|*<>!~^$]/.test(rest)) text = rest;
          else if (text.startsWith("=") && !text.startsWith("==") && !/[=,|]/.test(rest))
            text = rest.endsWith("*") ? rest : `${rest}*`;
          try {
            versionSpec = VersionSpec.parse(text);
          } catch (e) {
            throw new PackagingError(
              PackagingErrorCode.MATCHSPEC_INVALID,
              `Expected a valid conda version in ${received(input)}`,
              { cause: e },
            );
          }
          c.version = versionSpec.spec;
          const vs = versionSpec;
          if (vs.spec !== "*") tests.push((r) => typeof r.version === "string" && vs.match(r.version));
          break;
        }
        case "build":
          c.build = String(v);
          tests.push(strMatcher(c.build, (r) => r.build));
          break;
        case "build_number":
          c.build_number = String(v);
          tests.push(buildNumberMatcher(c.build_number, input));
          break;
        case "channel": {
          const ch = String(v);
          c.channel = ch;
          if (ch !== "*")
            tests.push((r) => condaChannelMatches(ch, typeof r.channel === "string" ? r.channel : null));
          break;
        }
        case "track_features":
        case "features": {
          const want = featureSet(v as string | string[]);
          c[f] = want.join(" ");
          tests.push((r) => featureSet(r[f] as string | string[] | null).join(" ") === want.join(" "));
          break;
        }
        case "license":
        case "license_family": {
          const val = f === "license_family" ? String(v).toLowerCase() : String(v);
          c[f] = val;
          tests.push(strMatcher(val, (r) => r[f], true));
          break;
        }
        default: {
          const val = String(v);
          c[f] = val;
          if (f !== "subdir" || val !== "*") tests.push(strMatcher(val, (r) => r[f]));
        }
      }
    }
    for (const k of ["when", "extras", "flags"] as const) if (raw[k] !== undefined) c[k] = raw[k];
    if (c.when !== undefined) validateCondition(c.when, input);
    this.components = c;
    this.tests = tests;
    this.versionSpec = versionSpec;
    this.optional = optional ?? raw.optional ?? false;
    this.target = target ?? raw.target ?? null;
    this.text = render(c);
  }

  /** Parse (cached). Throws PackagingError(E_MATCHSPEC_INVALID). */
  static parse(spec: string, options: MatchSpecParseOptions = {}): MatchSpec {
    return (options.syntax === "v3" ? parsedSpecs.v3 : parsedSpecs.v1)(spec);
  }

  get name(): string {
    return this.components.name ?? "*";
  }

  /** The version constraint, or null when any version matches. */
  get version(): VersionSpec | null {
    return this.versionSpec;
  }

  /** True when `record` satisfies every component. */
  match(record: CondaPackageRecord): boolean {
    for (const t of this.tests) if (!t(record)) return false;
    return true;
  }

  /** The exact value a field must have, or null when the spec allows several. */
  getExactValue(field: Field): string | null {
    const v = this.components[field];
    if (v === undefined) return null;
    if (field === "version") return this.versionSpec?.isExact ? v.replace(/^==/, "") : null;
    if (field === "name" || field === "build" || field === "channel") return v.includes("*") ? null : v;
    return v;
  }

  /** conda-build's `name version build` form. */
  condaBuildForm(): string {
    const parts = [this.name];
    const v = this.components.version;
    const b = this.components.build;
    if (v !== undefined || b !== undefined) parts.push(v ?? "*");
    if (b !== undefined) parts.push(b);
    return parts.join(" ");
  }

  /** environment.yml export form `name=version=build`. */
  condaEnvForm(): string {
    let s = this.name;
    const v = this.components.version;
    if (v !== undefined) s += `=${v.replace(/^==?/, "").replace(/\.\*$/, "")}`;
    if (this.components.build !== undefined) s += `=${this.components.build}`;
    return s;
  }

  /** Canonical string, e.g. `conda-forge/linux-64::numpy==1.26.4=py311h_0`. */
  toString(): string {
    return this.text;
  }

  toJSON(): string {
    return this.text;
  }

  equals(other: MatchSpec): boolean {
    return this.text === other.text && this.optional === other.optional && this.target === other.target;
  }
}

/** A `when=` condition: match specs joined by and/or with parentheses; no nested conditions. */
function validateCondition(expr: string, input: string): void {
  const atoms = expr
    .replace(/[()]/g, " ")
    .split(/\s+(?:and|or)\s+/)
    .map((a) => a.trim());
  for (const atom of atoms) {
    if (atom === "") throw invalid(input, "empty term in the when= condition");
    let m: MatchSpec;
    try {
      m = new MatchSpec(atom, {}, { syntax: "v3" });
    } catch (e) {
      throw new PackagingError(
        PackagingErrorCode.MATCHSPEC_INVALID,
        `Expected a valid match spec in the when= condition of ${received(input)}`,
        { cause: e },
      );
    }
    if (m.components.when !== undefined) throw invalid(input, "nested when= conditions are not allowed");
  }
}

function toRaw(f: MatchSpecFields): Raw {
  const out: Raw = {};
  for (const [k, v] of Object.entries(f)) {
    if (v === undefined || v === null) continue;
    if (k === "channel") {
      const p = parseCondaChannel(String(v));
      if (p.channel !== null) out.channel = p.channel;
      if (p.subdir !== null && out.subdir === undefined) out.subdir = p.subdir;
      continue;
    }
    if (!FIELD_SET.has(k)) throw invalid(JSON.stringify(f), `unknown field ${JSON.stringify(k)}`);
    out[k as Field] = Array.isArray(v) ? (v as string[]) : String(v);
  }
  return out;
}

function render(c: Partial<Record<Field | "when" | "extras" | "flags", string>>): string {
  const builder: string[] = [];
  const brackets: string[] = [];
  const channel = c.channel;
  const exactChannel = channel !== undefined && !channel.includes("*");
  if (exactChannel) builder.push(channel);
  else if (channel !== undefined && channel !== "*") brackets.push(`channel=${channel}`);
  if (c.subdir !== undefined) {
    if (exactChannel) builder.push(`/${c.subdir}`);
    else brackets.push(`subdir=${c.subdir}`);
  }
  const name = c.name ?? "*";
  builder.push(builder.length > 0 ? `::${name}` : name);
  const version = c.version;
  const build = c.build;
  let versionExact = false;
  if (version !== undefined && version !== "*") {
    if (/[><$^|,]/.test(version)) brackets.push(`version='${version}'`);
    else if (version.startsWith("!=") || version.startsWith("~=")) {
      if (build !== undefined) brackets.push(`version='${version}'`);
      else builder.push(version);
    } else if (version.endsWith(".*")) builder.push(`=${version.slice(0, -2)}`);
    else if (version.endsWith("*")) builder.push(`=${version.slice(0, -1)}`);
    else if (version.startsWith("==")) {
      builder.push(version);
      versionExact = true;
    } else if (version.startsWith("=")) builder.push(version);
    else {
      builder.push(`==${version}`);
      versionExact = true;
    }
  }
  if (build !== undefined) {
    if (/[><$^|,]/.test(build)) brackets.push(`build='${build}'`);
    else if (build.includes("*")) brackets.push(`build=${build}`);
    else if (versionExact) builder.push(`=${build}`);
    else brackets.push(`build=${build}`);
  }
  for (const key of FIELDS) {
    if (key === "channel" || key === "subdir" || key === "name" || key === "version" || key === "build")
      continue;
    const value = c[key];
    if (value === undefined) continue;
    if (key === "fn" && c.url !== undefined) continue;
    if (key === "url" && channel !== undefined) continue;
    brackets.push(/[, =]/.test(value) ? `${key}='${value}'` : `${key}=${value}`);
  }
  if (c.when !== undefined) brackets.push(/[, =]/.test(c.when) ? `when='${c.when}'` : `when=${c.when}`);
  if (c.extras !== undefined) brackets.push(`extras=${c.extras}`);
  if (c.flags !== undefined) brackets.push(`flags=${c.flags}`);
  if (brackets.length > 0) builder.push(`[${brackets.join(",")}]`);
  return builder.join("");
}

const LINE_NAME_RE = /^\s*([^=<>!~\s#]+)\s*([^#]*)/;

/**
 * conda's `spec_from_line` (environment/requirements lines): "foo=1.0=2" becomes "foo 1.0 2",
 * "foo >= 1.0" becomes "foo >=1.0"; null when the line is not a spec.
 */
export function condaSpecFromLine(line: string): string | null {
  const m = LINE_NAME_RE.exec(line);
  if (m === null) return null;
  const name = (m[1] as string).toLowerCase();
  const rest = (m[2] as string).trim();
  if (rest === "") return name;
  if (rest.startsWith("=") && !rest.startsWith("==")) return `${name}${rest.replaceAll("=", " ")}`;
  if (/^[<>!=~]/.test(rest)) return `${name} ${rest.replace(/\s+/g, "")}`;
  return null;
}
