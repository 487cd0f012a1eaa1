import { memoize } from "../internal/memo";
import { CondaVersion } from "./condaVersion";
import { PackagingError, PackagingErrorCode, received } from "./errors";

type Tree = string | { op: "," | "|"; items: Tree[] };

function invalid(spec: string, why: string): PackagingError {
  return new PackagingError(
    PackagingErrorCode.CONDA_VERSION_SPEC_INVALID,
    `Expected a conda version spec such as "1.7.*", ">=1.5,<2" or "1.7|1.8" (${why}), received ${received(spec)}`,
  );
}

const TOKEN_RE = /\s*\^[^$]*[$]|\s*[()|,]|[^()|,]+/g;

/** Tokenise on `( ) | ,` and build a tree where "," binds tighter than "|". */
function treeify(spec: string): Tree {
  const tokens = `(${spec})`.match(TOKEN_RE) ?? [];
  const output: Tree[] = [];
  const stack: string[] = [];
  const apply = (stop: string): void => {
    while (stack.length > 0 && !stop.includes(stack[stack.length - 1] as string)) {
      if (output.length < 2) throw invalid(spec, "cannot join a single expression");
      const c = stack.pop() as "," | "|";
      const r = output.pop() as Tree;
      const l = output.pop() as Tree;
      const items: Tree[] = [];
      for (const x of [l, r]) {
        if (typeof x !== "string" && x.op === c) items.push(...x.items);
        else items.push(x);
      }
      output.push({ op: c, items });
    }
  };
  for (const raw of tokens) {
    const t = raw.trim();
    if (t === "|") {
      apply("(");
      stack.push("|");
    } else if (t === ",") {
      apply("|(");
      stack.push(",");
    } else if (t === "(") stack.push("(");
    else if (t === ")") {
      apply("(");
      if (stack[stack.length - 1] !== "(") throw invalid(spec, "unbalanced ')'");
      stack.pop();
    } else if (t !== "") output.push(t);
  }
  if (stack.length > 0) throw invalid(spec, "unbalanced '('");
  if (output.length !== 1) throw invalid(spec, "no version found");
  return output[0] as Tree;
}

/**
 * conda's canonical text: groups are written without parentheses ("," inside "|" needs none;
 * conda also drops them around "|" inside ",", which we reproduce for identical strings while
 * matching always follows the parsed tree).
 */
function untreeify(t: Tree): string {
  if (typeof t === "string") return t;
  return t.items.map(untreeify).join(t.op);
}

const RELATION_RE = /^(=|==|!=|<=|>=|<|>|~=)(?![=<>!~])(\S+)$/;

type Matcher = (v: CondaVersion) => boolean;

interface Leaf {
  str: string;
  exact: boolean;
  match: Matcher;
}

function leaf(specIn: string): Leaf {
  let spec = specIn.trim();
  if (spec === "") throw invalid(specIn, "empty spec");
  if (spec.startsWith("^") || spec.endsWith("$")) {
    if (!spec.startsWith("^") || !spec.endsWith("$"))
      throw invalid(specIn, "regex specs must start with '^' and end with '$'");
    let re: RegExp;
    try {
      re = new RegExp(spec);
    } catch (e) {
      throw new PackagingError(
        PackagingErrorCode.CONDA_VERSION_SPEC_INVALID,
        `Expected a valid regular expression, received ${received(spec)}`,
        { cause: e },
      );
    }
    return { str: spec, exact: false, match: (v) => re.test(v.normalized) };
  }
  if ("=<>!~".includes(spec[0] as string)) {
    const m = RELATION_RE.exec(spec);
    if (m === null) throw invalid(specIn, "invalid operator");
    let op = m[1] as string;
    let vo = m[2] as string;
    if (vo.endsWith(".*")) {
      if (op === "~=") throw invalid(specIn, "'~=' cannot be combined with '.*'");
      if (op === "!=") op = "!=startswith";
      vo = vo.slice(0, -2);
    }
    const target = CondaVersion.parse(vo);
    const tp = target.p;
    const exact = op === "==";
    switch (op) {
      case "==":
        return {
          str: spec,
          exact,
          match: tp >= 0 ? (v) => (v.p >= 0 ? v.p === tp : v.equals(target)) : (v) => v.equals(target),
        };
      case "!=":
        return { str: spec, exact, match: (v) => !v.equals(target) };
      case "<":
        return {
          str: spec,
          exact,
          match:
            tp >= 0 ? (v) => (v.p >= 0 ? v.p < tp : v.compare(target) < 0) : (v) => v.compare(target) < 0,
        };
      case "<=":
        return {
          str: spec,
          exact,
          match:
            tp >= 0 ? (v) => (v.p >= 0 ? v.p <= tp : v.compare(target) <= 0) : (v) => v.compare(target) <= 0,
        };
      case ">":
        return {
          str: spec,
          exact,
          match:
            tp >= 0 ? (v) => (v.p >= 0 ? v.p > tp : v.compare(target) > 0) : (v) => v.compare(target) > 0,
        };
      case ">=":
        return {
          str: spec,
          exact,
          match:
            tp >= 0 ? (v) => (v.p >= 0 ? v.p >= tp : v.compare(target) >= 0) : (v) => v.compare(target) >= 0,
        };
      case "=":
        return { str: spec, exact, match: (v) => v.startsWith(target) };
      case "!=startswith":
        return { str: spec, exact, match: (v) => !v.startsWith(target) };
      default: {
        // ~=: >= target and starts with target minus its last dotted part.
        const dots = target.normalized.split(".");
        if (dots.length < 2) {
          // conda (`compatible_release_operator`) compares first: a lower version simply does
          // not match; at or above it, the empty prefix fails, so matching raises there
          return {
            str: spec,
            exact,
            match: (v) => {
              if (v.compare(target) < 0) return false;
              throw invalid(
                specIn,
                `'~=' with one component has no prefix to stay within, so conda cannot match ${v.normalized} against it; write ~=${target.normalized}.0 or >=${target.normalized}`,
              );
            },
          };
        }
        const prefix = CondaVersion.parse(dots.slice(0, -1).join("."));
        return { str: spec, exact, match: (v) => v.compare(target) >= 0 && v.startsWith(prefix) };
      }
    }
  }
  if (spec === "*") return { str: spec, exact: false, match: () => true };
  if (spec.replace(/\*+$/, "").includes("*")) {
    const rx = new RegExp(
      `^(?:${spec.replaceAll(".", "\\.").replaceAll("+", "\\+").replaceAll("*", ".*")})$`,
    );
    return { str: spec, exact: false, match: (v) => rx.test(v.normalized) };
  }
  if (spec.endsWith("*")) {
    if (!spec.endsWith(".*")) spec = `${spec.slice(0, -1)}.*`;
    const target = CondaVersion.parse(spec.slice(0, -2));
    return { str: spec, exact: false, match: (v) => v.startsWith(target) };
  }
  const target = CondaVersion.parse(spec);
  return { str: spec, exact: true, match: (v) => v.equals(target) };
}

function compile(t: Tree): { match: Matcher; exact: boolean } {
  if (typeof t === "string") return leaf(t);
  const parts = t.items.map(compile);
  const fns = parts.map((p) => p.match);
  const n = fns.length;
  if (t.op === ",") {
    return {
      exact: false,
      match: (v) => {
        for (let i = 0; i < n; i++) if (!(fns[i] as Matcher)(v)) return false;
        return true;
      },
    };
  }
  return {
    exact: false,
    match: (v) => {
      for (let i = 0; i < n; i++) if ((fns[i] as Matcher)(v)) return true;
      return false;
    },
  };
}

const parsedSpecs = memoize(20_000, (spec) => new VersionSpec(spec));

/** A conda version constraint: `1.7`, `1.7*`, `=1.7`, `>=1.5,<2`, `1.7|1.8`, `^1\.7$`, `*`. */
export class VersionSpec {
  /** Canonical text (redundant parentheses and whitespace removed, `1.7*` as `1.7.*`). */
  readonly spec: string;
  /** True when the spec pins one exact version (`1.7.1`, `==1.7.1`). */
  readonly isExact: boolean;
  private readonly fn: Matcher;

  constructor(spec: string) {
    const s = spec.trim();
    if (s === "") throw invalid(spec, "empty spec");
    const tree = /[()|,]/.test(s) ? treeify(s) : s;
    if (typeof tree === "string") {
      const l = leaf(tree);
      this.spec = l.str;
      this.isExact = l.exact;
      this.fn = l.match;
    } else {
      const c = compile(tree);
      this.spec = untreeify(mapLeaves(tree));
      this.isExact = c.exact;
      this.fn = c.match;
    }
  }

  /** Parse (cached). Throws PackagingError(E_CONDA_VERSION_SPEC_INVALID). */
  static parse(spec: string): VersionSpec {
    return parsedSpecs(spec);
  }

  /** Does `version` satisfy this spec? */
  match(version: string | CondaVersion): boolean {
    return this.fn(typeof version === "string" ? CondaVersion.parse(version) : version);
  }

  toString(): string {
    return this.spec;
  }

  toJSON(): string {
    return this.spec;
  }

  equals(other: VersionSpec): boolean {
    return this.spec === other.spec;
  }
}

function mapLeaves(t: Tree): Tree {
  if (typeof t === "string") return leaf(t).str;
  return { op: t.op, items: t.items.map(mapLeaves) };
}
