import type { CliIo } from "../context";
import { runCli } from "../program";

/** What one in-process CLI run printed and returned. */
export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run the CLI in this process with captured output (tests, scripts). */
export async function runInProcess(
  argv: readonly string[],
  options: Partial<Pick<CliIo, "env" | "cwd" | "readStdin" | "untilStopped" | "isTTY" | "columns">> = {},
): Promise<CliRun> {
  let stdout = "";
  let stderr = "";
  const io: CliIo = {
    stdout: (t) => {
      stdout += t;
    },
    stderr: (t) => {
      stderr += t;
    },
    env: options.env ?? {},
    cwd: options.cwd ?? process.cwd(),
  };
  if (options.readStdin) io.readStdin = options.readStdin;
  if (options.untilStopped) io.untilStopped = options.untilStopped;
  if (options.isTTY) io.isTTY = options.isTTY;
  if (options.columns) io.columns = options.columns;
  const code = await runCli(argv, io);
  return { code, stdout, stderr };
}
