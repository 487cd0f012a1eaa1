/**
 * The fixture of the CLI command tests: a real server (SQLite) and a working folder for the tests
 * of the current block, and `mlenv ...` run in this process against them. Test-only.
 */
import { join } from "node:path";
import { startServer } from "@mlenv/server";
import { type TestServerFixture, useTempDir, useTestServer } from "@mlenv/test-utils/fixtures";
import { expect } from "vitest";
import { type CliRun, runInProcess } from "../internal/runInProcess";

type RunOptions = NonNullable<Parameters<typeof runInProcess>[1]>;

export interface CliServer {
  server: TestServerFixture;
  /** The folder the CLI runs in. */
  dir: { path: string };
  /** The server's URL and admin token, and a config file that does not exist (read in tests). */
  readonly env: Record<string, string>;
  /** `mlenv ...argv` in `dir` with `env`; `options` add to or replace them. */
  run(argv: readonly string[], options?: RunOptions): Promise<CliRun>;
}

export function useCliServer(prefix: string): CliServer {
  const server = useTestServer(startServer);
  const dir = useTempDir(prefix);
  const cli: CliServer = {
    server,
    dir,
    get env() {
      return { MLENV_URL: server.url, MLENV_TOKEN: server.token, MLENV_CONFIG: join(dir.path, "none.json") };
    },
    run: (argv, options = {}) => runInProcess(argv, { cwd: dir.path, env: cli.env, ...options }),
  };
  return cli;
}

/** Every failure is one line on stderr, `error: ... [E_CODE]`, and a non-zero exit. */
export function expectOneLineError(r: CliRun, code: string): void {
  expect(r.code).not.toBe(0);
  expect(r.stdout).toBe("");
  const lines = r.stderr.trimEnd().split("\n");
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(new RegExp(`^error: .+ \\[${code}\\]$`));
}
