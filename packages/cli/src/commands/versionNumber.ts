import { InvalidArgumentError } from "commander";

/** The value of a `-v, --version <n>` option: a version number, 1 or more. */
export function parseVersion(v: string): number {
  if (!/^[1-9]\d{0,8}$/.test(v))
    throw new InvalidArgumentError(`expected a version number such as 1 or 2; received ${v}`);
  return Number(v);
}
