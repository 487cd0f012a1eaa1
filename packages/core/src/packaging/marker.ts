import { memoize } from "../internal/memo";
import { PackagingError, PackagingErrorCode, received } from "./errors";
import { Specifier } from "./specifier";
import { canonicalizeName } from "./version";

/** Values a marker can be evaluated against; `extras`/`dependency_groups` are sets (PEP 751). */
export type MarkerEnvironment = Readonly<Record<string, string | readonly string[] | null | undefined>>;

/** Where a marker is evaluated: package metadata (default), a lock file, or a bare requirement. */
export type MarkerContext = "metadata" | "lock_file" | "requirement";

/** The PEP 508 marker variables, plus the set-valued PEP 751 ones. */
export const MARKER_VARIABLES = [
  "implementation_version",
  "platform_python_implementation",
  "implementation_name",
  "python_full_version",
  "platform_release",
  "platform_version",
  "platform_machine",
  "platform_system",
  "python_version",
  "sys_platform",
  "os_name",
  "dependency_groups",
  "extras",
  "extra",
] as const;

const LEGACY: Record<string, string> = {
  "os.name": "os_name",
  "sys.platform": "sys_platform",
  "platform.version": "platform_version",
  "platform.machine": "platform_machine",
  "platform.python_implementation": "platform_python_implementation",
  python_implementation: "platform_python_implementation",
};

const VERSION_KEYS = new Set([
  "python_version",
  "python_full_version",
  "implementation_version",
  "platform_release",
]);
const SET_KEYS = new Set(["extras", "dependency_groups"]);

const VARIABLE_RE =
  /(?:implementation_version|platform_python_implementation|implementation_name|python_full_version|platform_release|platform_version|platform_machine|platform_system|python_version|sys_platform|os_name|os\.name|sys\.platform|platform\.version|platform\.machine|platform\.python_implementation|python_implementation|dependency_groups|extras|extra)\b/y;
const OP_RE = /(?:===|==|~=|!=|<=|>=|<|>)|(?:not[ \t]+in|in)\b/y;
const BOOL_RE = /(?:and|or)\b/y;
const WS_RE = /[ \t]*/y;
const QUOTED_RE = /'((?:[^'\\]|\\['"\\])*)'|"((?:[^"\\]|\\['"\\])*)"/y;
const ESCAPE_RE = /\\(['"\\])/g;

export type MarkerOp = "===" | "==" | "~=" | "!=" | "<=" | ">=" | "<" | ">" | "in" | "not in";

/** One side of a comparison: an environment variable or a quoted string. */
export type MarkerValue = { kind: "variable"; name: string } | { kind: "string"; value: string };

/** `lhs op rhs`. */
export interface MarkerComparison {
  lhs: MarkerValue;
  op: MarkerOp;
  rhs: MarkerValue;
}

/** A flat list as written: items joined by "and"/"or" (and binds tighter); nested groups are lists. */
export type MarkerList = (MarkerComparison | MarkerList | "and" | "or")[];

class Parser {
  pos = 0;
  constructor(readonly src: string) {}

  fail(expected: string): never {
    throw new PackagingError(
      PackagingErrorCode.MARKER_INVALID,
      `Expected ${expected} at column ${this.pos + 1} of a PEP 508 marker such as 'python_version >= "3.8" and sys_platform == "linux"', received ${received(this.src)}`,
    );
  }

  ws(): void {
    WS_RE.lastIndex = this.pos;
    WS_RE.exec(this.src);
    this.pos = WS_RE.lastIndex;
  }

  match(re: RegExp): RegExpExecArray | null {
    re.lastIndex = this.pos;
    const m = re.exec(this.src);
    if (m !== null) this.pos = re.lastIndex;
    return m;
  }

  peek(ch: string): boolean {
    return this.src.startsWith(ch, this.pos);
  }

  /** marker_or := marker_and ("or" marker_and)* ; marker_and := expr ("and" expr)* */
  list(): MarkerList {
    const out: MarkerList = [this.atom()];
    for (;;) {
      this.ws();
      const m = this.match(BOOL_RE);
      if (m === null) return out;
      out.push(m[0] as "and" | "or");
      this.ws();
      out.push(this.atom());
    }
  }

  atom(): MarkerComparison | MarkerList {
    this.ws();
    if (this.peek("(")) {
      this.pos++;
      this.ws();
      const inner = this.list();
      this.ws();
      if (!this.peek(")")) this.fail('")" to close the group');
      this.pos++;
      return inner;
    }
    const lhs = this.value();
    this.ws();
    const op = this.match(OP_RE);
    if (op === null) this.fail("a comparison operator (==, !=, <, <=, >, >=, ~=, ===, in, not in)");
    this.ws();
    const rhs = this.value();
    return { lhs, op: op[0].replace(/[ \t]+/, " ") as MarkerOp, rhs };
  }

  value(): MarkerValue {
    const v = this.match(VARIABLE_RE);
    if (v !== null) return { kind: "variable", name: LEGACY[v[0]] ?? v[0] };
    if (this.peek("'") || this.peek('"')) {
      const q = this.match(QUOTED_RE);
      if (q === null) this.fail("a valid quoted string (only \\\\, \\' and \\\" escapes)");
      return { kind: "string", value: (q[1] ?? q[2] ?? "").replace(ESCAPE_RE, "$1") };
    }
    return this.fail(`a marker variable (${MARKER_VARIABLES.join(", ")}) or a quoted string`);
  }
}

function isCmp(x: MarkerList[number]): x is MarkerComparison {
  return typeof x === "object" && !Array.isArray(x);
}

function normaliseExtras(list: MarkerList): MarkerList {
  return list.map((x) => {
    if (Array.isArray(x)) return normaliseExtras(x);
    if (!isCmp(x)) return x;
    const { lhs, rhs, op } = x;
    const isExtraVar = (v: MarkerValue) =>
      v.kind === "variable" && (v.name === "extra" || SET_KEYS.has(v.name));
    if (lhs.kind === "string" && isExtraVar(rhs))
      return { lhs: { kind: "string", value: canonicalizeName(lhs.value) }, op, rhs };
    if (rhs.kind === "string" && isExtraVar(lhs))
      return { lhs, op, rhs: { kind: "string", value: canonicalizeName(rhs.value) } };
    return x;
  });
}

function quote(v: MarkerValue): string {
  if (v.kind === "variable") return v.name;
  return v.value.includes('"') ? `'${v.value}'` : `"${v.value}"`;
}

function format(list: MarkerList, top: boolean): string {
  // Redundant nesting ((x)) collapses to one group; the outermost group needs no parentheses.
  let l = list;
  while (l.length === 1 && Array.isArray(l[0])) l = l[0];
  if (l.length === 1 && isCmp(l[0] as MarkerList[number])) top = true;
  const inner = l
    .map((x) =>
      Array.isArray(x) ? format(x, false) : isCmp(x) ? `${quote(x.lhs)} ${x.op} ${quote(x.rhs)}` : x,
    )
    .join(" ");
  return top ? inner : `(${inner})`;
}

function undefinedComparison(what: string): PackagingError {
  return new PackagingError(
    PackagingErrorCode.MARKER_UNDEFINED_COMPARISON,
    `Expected a comparison that is defined for its operands (e.g. python_version >= "3.8" or "x" in extras), received ${received(what)}`,
  );
}

const cachedSpecifier = memoize(10_000, (text: string): Specifier | null => {
  try {
    return new Specifier(text);
  } catch {
    return null;
  }
});

function versionSpec(op: string, rhs: string): Specifier | null {
  return cachedSpecifier(op + rhs);
}

function evalOp(
  lhs: string | readonly string[],
  op: MarkerOp,
  rhs: string | readonly string[],
  key: string,
): boolean {
  if (SET_KEYS.has(key)) {
    if (typeof rhs !== "string" && typeof lhs === "string" && (op === "in" || op === "not in")) {
      const has = rhs.some((x) => canonicalizeName(x) === lhs);
      return op === "in" ? has : !has;
    }
    throw undefinedComparison(`${JSON.stringify(lhs)} ${op} ${JSON.stringify(rhs)}`);
  }
  const l = lhs as string;
  const r = rhs as string;
  if (op === "in") return r.includes(l);
  if (op === "not in") return !r.includes(l);
  if (VERSION_KEYS.has(key)) {
    const spec = versionSpec(op, r);
    if (spec !== null) return spec.contains(l, { prereleases: true });
  }
  switch (op) {
    case "==":
      return l === r;
    case "!=":
      return l !== r;
    case "<=":
    case ">=":
      return l === r;
    case "<":
    case ">":
      return false;
    default:
      throw undefinedComparison(`${l} ${op} ${r}`);
  }
}

const parsedMarkers = memoize(10_000, (marker) => new Marker(marker));

/** A parsed PEP 508 environment marker. Evaluate it against a target environment. */
export class Marker {
  /** The parse tree (flat and/or lists, nested groups). */
  readonly tree: MarkerList;
  private readonly text: string;

  constructor(marker: string) {
    if (/[\r\n]/.test(marker)) {
      throw new PackagingError(
        PackagingErrorCode.MARKER_INVALID,
        `Expected a single-line marker such as 'python_version >= "3.8"', received ${received(marker)}`,
      );
    }
    const p = new Parser(marker);
    const tree = p.list();
    p.ws();
    if (p.pos !== marker.length) p.fail('"and", "or" or the end of the marker');
    this.tree = normaliseExtras(tree);
    this.text = format(this.tree, true);
  }

  /** Parse (cached: parsed markers are immutable). */
  static parse(marker: string): Marker {
    return parsedMarkers(marker);
  }

  /** Canonical form: double quotes, single spaces, normalised extras, redundant groups dropped. */
  toString(): string {
    return this.text;
  }

  toJSON(): string {
    return this.text;
  }

  equals(other: Marker): boolean {
    return this.text === other.text;
  }

  /**
   * Evaluate against `environment` (every variable the marker names must be present). In the
   * "metadata" context `extra` defaults to ""; in "lock_file" `extras`/`dependency_groups`
   * default to empty sets.
   */
  evaluate(environment: MarkerEnvironment, context: MarkerContext = "metadata"): boolean {
    const env: Record<string, string | readonly string[] | null | undefined> = {};
    if (context === "lock_file") {
      env.extras = [];
      env.dependency_groups = [];
    } else if (context === "metadata") env.extra = "";
    for (const [k, v] of Object.entries(environment)) {
      if (v === undefined) continue;
      env[k] = v;
    }
    if (context === "metadata" && env.extra === null) env.extra = "";
    const pfv = env.python_full_version;
    if (typeof pfv === "string" && pfv.endsWith("+")) env.python_full_version = `${pfv}local`;
    return evalList(this.tree, env);
  }
}

function lookup(env: MarkerEnvironment, key: string): string | readonly string[] {
  const v = env[key];
  if (v === undefined || v === null) {
    throw new PackagingError(
      PackagingErrorCode.MARKER_UNDEFINED_NAME,
      `Expected the environment to define ${JSON.stringify(key)} (e.g. { ${key}: "..." }), received no value for it`,
    );
  }
  return v;
}

function evalCmp(c: MarkerComparison, env: MarkerEnvironment): boolean {
  let key: string;
  let l: string | readonly string[];
  let r: string | readonly string[];
  if (c.lhs.kind === "variable") {
    key = c.lhs.name;
    l = lookup(env, key);
    r = c.rhs.kind === "variable" ? lookup(env, c.rhs.name) : c.rhs.value;
  } else {
    l = c.lhs.value;
    key = c.rhs.kind === "variable" ? c.rhs.name : c.rhs.value;
    r = lookup(env, key);
  }
  if (key === "extra") {
    if (typeof l === "string") l = canonicalizeName(l);
    if (typeof r === "string") r = canonicalizeName(r);
  }
  return evalOp(l, c.op, r, key);
}

function evalList(list: MarkerList, env: MarkerEnvironment): boolean {
  // "and" binds tighter than "or": any of the and-groups all true.
  let group = true;
  for (const x of list) {
    if (x === "or") {
      if (group) return true;
      group = true;
    } else if (x === "and") {
      // continue the group
    } else if (group) {
      group = Array.isArray(x) ? evalList(x, env) : evalCmp(x as MarkerComparison, env);
    }
  }
  return group;
}

/** A target to build a marker environment for (what a lock for one platform needs). */
export interface MarkerTarget {
  /** Full Python version, e.g. "3.11.9". */
  pythonVersion: string;
  platform: "linux" | "darwin" | "win32";
  /** Machine as Python reports it; defaults to "x86_64" (Windows: "AMD64"). */
  machine?: string;
  /** Kernel release/version strings when known (otherwise ""). */
  platformRelease?: string;
  platformVersion?: string;
}

/** The PEP 508 environment of a CPython interpreter on `target` (no host I/O). */
export function markerEnvironment(target: MarkerTarget): Record<string, string> {
  const [major = "3", minor = "0"] = target.pythonVersion.split(".");
  const win = target.platform === "win32";
  return {
    implementation_name: "cpython",
    implementation_version: target.pythonVersion,
    os_name: win ? "nt" : "posix",
    platform_machine: target.machine ?? (win ? "AMD64" : "x86_64"),
    platform_python_implementation: "CPython",
    platform_release: target.platformRelease ?? "",
    platform_system:
      target.platform === "linux" ? "Linux" : target.platform === "darwin" ? "Darwin" : "Windows",
    platform_version: target.platformVersion ?? "",
    python_full_version: target.pythonVersion,
    python_version: `${major}.${minor}`,
    sys_platform: target.platform,
  };
}
