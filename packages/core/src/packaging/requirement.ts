import { memoize } from "../internal/memo";
import { PackagingError, PackagingErrorCode, received } from "./errors";
import { Marker } from "./marker";
import { SpecifierSet } from "./specifierSet";
import { canonicalizeName } from "./version";

const NAME_RE = /[ \t]*([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)[ \t]*/y;
const EXTRA_RE = /[ \t]*([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)[ \t]*/y;
const URL_RE = /[^ \t]+/y;
const WS_RE = /[ \t]*/y;

function fail(input: string, expected: string, column: number): never {
  throw new PackagingError(
    PackagingErrorCode.REQUIREMENT_INVALID,
    `Expected ${expected} at column ${column + 1} of a PEP 508 requirement such as 'requests[socks]>=2.8,<3; python_version >= "3.8"', received ${received(input)}`,
  );
}

const parsedRequirements = memoize(20_000, (input) => new Requirement(input));

/** A PEP 508 dependency specification: name, extras, version specifier or URL, marker. */
export class Requirement {
  /** The name as written (not normalised; see {@link canonicalName}). */
  readonly name: string;
  /** Extras as written, in input order, de-duplicated. */
  readonly extras: readonly string[];
  readonly specifier: SpecifierSet;
  readonly url: string | null;
  readonly marker: Marker | null;

  constructor(input: string) {
    if (/[\r\n]/.test(input)) fail(input, "a single line (no line breaks)", input.search(/[\r\n]/));
    let pos = 0;
    const at = (re: RegExp): RegExpExecArray | null => {
      re.lastIndex = pos;
      const m = re.exec(input);
      if (m !== null) pos = re.lastIndex;
      return m;
    };
    const name = at(NAME_RE);
    if (name === null) fail(input, "a project name", pos);
    this.name = name[1] as string;
    const extras: string[] = [];
    if (input[pos] === "[") {
      pos++;
      at(WS_RE);
      if (input[pos] !== "]") {
        for (;;) {
          const e = at(EXTRA_RE);
          if (e === null) fail(input, "an extra name", pos);
          if (!extras.includes(e[1] as string)) extras.push(e[1] as string);
          if (input[pos] === ",") {
            pos++;
            continue;
          }
          break;
        }
      }
      if (input[pos] !== "]") fail(input, 'a comma or "]" to close the extras', pos);
      pos++;
      at(WS_RE);
    }
    this.extras = extras;
    let url: string | null = null;
    let spec = "";
    if (input[pos] === "@") {
      pos++;
      at(WS_RE);
      const u = at(URL_RE);
      if (u === null) fail(input, "a URL after '@'", pos);
      url = u[0];
      const before = pos;
      at(WS_RE);
      if (pos < input.length && (input[pos] !== ";" || before === pos)) {
        fail(input, "whitespace then ';' (or the end) after the URL", pos);
      }
    } else {
      let end: number;
      if (input[pos] === "(") {
        end = input.indexOf(")", pos);
        if (end < 0) fail(input, '")" to close the version specifier', input.length);
        spec = input.slice(pos + 1, end);
        pos = end + 1;
      } else {
        end = input.indexOf(";", pos);
        if (end < 0) end = input.length;
        spec = input.slice(pos, end);
        pos = end;
      }
      if (spec.trim() !== "") {
        for (const part of spec.split(",")) {
          if (part.trim() === "") fail(input, "a version specifier between commas", pos);
        }
      }
      at(WS_RE);
    }
    try {
      this.specifier = new SpecifierSet(spec);
    } catch (e) {
      throw new PackagingError(
        PackagingErrorCode.REQUIREMENT_INVALID,
        `Expected valid version specifiers such as ">=1.0,<2" in a requirement, received ${received(input)}`,
        { cause: e },
      );
    }
    this.url = url;
    let marker: Marker | null = null;
    if (pos < input.length) {
      if (input[pos] !== ";") fail(input, "';' before a marker, or the end", pos);
      try {
        marker = Marker.parse(input.slice(pos + 1).replace(/^[ \t]+|[ \t]+$/g, ""));
      } catch (e) {
        throw new PackagingError(
          PackagingErrorCode.REQUIREMENT_INVALID,
          `Expected a valid environment marker after ';' such as 'python_version >= "3.8"', received ${received(input)}`,
          { cause: e },
        );
      }
    }
    this.marker = marker;
  }

  /** Parse a requirement (cached; Requirement objects are not mutated by this library). */
  static parse(input: string): Requirement {
    return parsedRequirements(input);
  }

  /** PEP 503 normalised name. */
  get canonicalName(): string {
    return canonicalizeName(this.name);
  }

  /** Canonical string: `name[extras-sorted]specifier @ url ; marker`. */
  toString(): string {
    let s = this.name;
    if (this.extras.length > 0)
      s += `[${[...this.extras].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)).join(",")}]`;
    s += this.specifier.toString();
    if (this.url !== null) s += ` @ ${this.url}`;
    if (this.marker !== null) s += `${this.url !== null ? " " : ""}; ${this.marker.toString()}`;
    return s;
  }

  toJSON(): string {
    return this.toString();
  }

  /** Equality after normalising the name, extras (PEP 685), specifiers and marker. */
  equals(other: Requirement): boolean {
    const ex = (r: Requirement) => [...new Set(r.extras.map(canonicalizeName))].sort().join(",");
    return (
      this.canonicalName === other.canonicalName &&
      ex(this) === ex(other) &&
      this.specifier.equals(other.specifier) &&
      this.url === other.url &&
      (this.marker?.toString() ?? null) === (other.marker?.toString() ?? null)
    );
  }
}
