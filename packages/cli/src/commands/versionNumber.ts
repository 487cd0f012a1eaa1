import { InvalidArgumentError } from "commander";

/** `v` as a version number (1 or more); otherwise an error that says `expected`, e.g. `a version such as 2`. */
function versionNumber(v: string, expected: string): number {
  if (!/^[1-9]\d{0,8}$/.test(v)) throw new InvalidArgumentError(`expected ${expected}; received ${v}`);
  return Number(v);
}

/** The value of a `-v, --version <n>` option: a version number, 1 or more. */
export function parseVersion(v: string): number {
  return versionNumber(v, "a version number such as 1 or 2");
}

/** The value of `-v, --version <n>` beside `-n NAME` (`mlenv lock outdated`, `mlenv env install`). */
export function parseVersionOfName(v: string): number {
  return versionNumber(v, "a version such as 2");
}
