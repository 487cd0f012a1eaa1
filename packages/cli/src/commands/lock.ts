import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import {
  type EnvironmentDefinition,
  type Lock,
  parseDefinition,
  parseLock,
  serializeLock,
  validateLock,
} from "@mlenv/core";
import { checkLock, isResolverError, lockEnvironment, outdated } from "@mlenv/resolver";
import { workspaceFromConfig } from "@mlenv/sdk/node";
import { type Command, InvalidArgumentError, Option } from "commander";
import { type CliContext, CliError } from "../context";
import { formatJson, formatTable, sanitize } from "../output";
import { loadOrReport } from "./envOffline";

const PLATFORMS = ["linux-64", "linux-aarch64", "osx-64", "osx-arm64", "win-64"];

function collect(v: string, prev: string[] | undefined): string[] {
  return [...(prev ?? []), v];
}

/** `mlenv.lock` beside a definition folder (inside it) or file (next to it). */
function defaultLockPath(ctx: CliContext, dir: string): string {
  const p = ctx.path(dir);
  return existsSync(p) && statSync(p).isDirectory() ? join(p, "mlenv.lock") : join(dirname(p), "mlenv.lock");
}

function cacheDir(ctx: CliContext): string {
  const base = ctx.io.env.XDG_CACHE_HOME ?? join(ctx.io.env.HOME ?? ctx.io.cwd, ".cache");
  return join(base, "mlenv", "repodata");
}

async function withResolverErrors<T>(ctx: CliContext, f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    if (isResolverError(e)) {
      if (e.explanation.length) {
        ctx.err(sanitize(`error: ${e.message.split("\n")[0]} [${e.code}]`));
        for (const line of e.explanation) ctx.err(sanitize(`  ${line}`));
        throw new CliError(e.code, "", { cause: e });
      }
      throw new CliError(e.code, e.message, { cause: e });
    }
    throw e;
  }
}

/** The lock `mlenv env register` sends, and the warning to print when it has none. */
export interface RegisterLock {
  /** YAML text of an mlenv.lock, or a lock just made; undefined: register unlocked. */
  lock?: string | Lock;
  /** Where it came from, for the output line. */
  source?: string;
  /** One line explaining why the version is unlocked (printed once on stderr). */
  warning?: string;
}

/**
 * The lock for `mlenv env register`: `--lock FILE`, else mlenv.lock beside the definition, else
 * a fresh lock made with the resolver when the definition's channels and indexes answer. A
 * definition that cannot be locked here (sources unreachable, unsatisfiable) registers unlocked,
 * with one warning line. `--no-lock` (option false) skips all of this.
 */
export async function lockForRegister(
  ctx: CliContext,
  directory: string,
  def: EnvironmentDefinition,
  option: string | false | undefined,
): Promise<RegisterLock> {
  if (option === false) return {};
  if (typeof option === "string") {
    const p = ctx.path(option);
    if (!existsSync(p)) throw new CliError("E_USAGE", `expected a lock file at --lock ${option}; none found`);
    return { lock: readFileSync(p, "utf8"), source: p };
  }
  const beside = defaultLockPath(ctx, directory);
  if (existsSync(beside)) return { lock: readFileSync(beside, "utf8"), source: beside };
  if (def.python.userManagedDependencies) return {};
  try {
    return { lock: await lockEnvironment(def, { cacheDir: cacheDir(ctx) }), source: "resolved now" };
  } catch (e) {
    if (!isResolverError(e)) throw e;
    // Which of several parallel fetches failed first varies: name the cause, not the URL.
    const why =
      e.code === "E_FETCH_FAILED"
        ? "the definition's channels or indexes are unreachable"
        : (e.message.split("\n")[0] ?? "").slice(0, 200);
    return {
      warning: `warning: registering unlocked: no mlenv.lock beside the definition and locking failed (${why}) [${e.code}]; run mlenv env lock -d ${directory} where they are reachable, or pass --lock FILE`,
    };
  }
}

/** `mlenv env lock` and `mlenv env outdated`. */
export function register(program: Command, ctx: CliContext): void {
  const env =
    program.commands.find((c) => c.name() === "env") ??
    program.command("env").description("Environment definitions and the environment registry.");

  env
    .command("lock")
    .description("Lock a definition to exact packages per platform (writes mlenv.lock beside it).")
    .requiredOption("-d, --directory <path>", "definition folder, or a .yml/.json/.txt file")
    .addOption(
      new Option("--platform <platform>", "target platform (repeatable)")
        .choices(PLATFORMS)
        .argParser(collect),
    )
    .option("-o, --output <file>", "where to write the lock (default: mlenv.lock beside the definition)")
    .option("--check", "exit non-zero when the existing lock no longer matches the definition")
    .option("--json", "print JSON")
    .action(
      async (opts: {
        directory: string;
        platform?: string[];
        output?: string;
        check?: boolean;
        json?: boolean;
      }) => {
        const def = loadOrReport(ctx, opts.directory).definition;
        const lockPath = opts.output ? ctx.path(opts.output) : defaultLockPath(ctx, opts.directory);
        const platforms = opts.platform ?? def.platforms;
        if (opts.check) {
          if (!existsSync(lockPath))
            throw new CliError(
              "E_LOCK_MISMATCH",
              `no lock at ${lockPath}: run mlenv env lock -d ${opts.directory}`,
              { exitCode: 2 },
            );
          const res = checkLock(def, parseLock(readFileSync(lockPath, "utf8"), lockPath), platforms);
          if (opts.json) ctx.out(formatJson(res));
          else if (res.ok) ctx.out(sanitize(`Lock is up to date: ${lockPath}`));
          if (!res.ok) {
            if (!opts.json) for (const r of res.reasons) ctx.err(sanitize(`lock out of date: ${r}`));
            throw new CliError("E_LOCK_MISMATCH", "", { exitCode: 2 });
          }
          return;
        }
        const lock = await withResolverErrors(ctx, () =>
          lockEnvironment(def, { platforms, cacheDir: cacheDir(ctx) }),
        );
        writeFileSync(lockPath, serializeLock(lock));
        if (opts.json) return ctx.out(formatJson(lock));
        for (const [p, e] of Object.entries(lock.platforms)) {
          ctx.out(sanitize(`${p}: ${e.conda.length} conda, ${e.pip.length} pip packages`));
        }
        ctx.out(sanitize(`Wrote ${lockPath}`));
      },
    );

  env
    .command("outdated")
    .description("Show packages that would now resolve to other versions than the lock pins.")
    .option("-n, --name <name>", "registered environment (its stored lock; latest version unless -v)")
    .option("-v, --version <n>", "version of -n NAME", (v: string) => {
      if (!/^[1-9]\d{0,8}$/.test(v))
        throw new InvalidArgumentError(`expected a version such as 2; received ${v}`);
      return Number(v);
    })
    .option("-d, --directory <path>", "definition folder or file")
    .option(
      "--lock <file>",
      "the lock to compare with (default: the registered version's, or mlenv.lock beside the definition)",
    )
    .option("--json", "print JSON")
    .action(
      async (opts: {
        name?: string;
        version?: number;
        directory?: string;
        lock?: string;
        json?: boolean;
      }) => {
        let def: EnvironmentDefinition;
        let lockPath: string | undefined = opts.lock ? ctx.path(opts.lock) : undefined;
        let stored: Lock | undefined;
        if (opts.name) {
          const envs = workspaceFromConfig({ env: ctx.io.env }).environments;
          const v = await envs.get(opts.name, opts.version === undefined ? {} : { version: opts.version });
          def = parseDefinition(v.definition);
          if (!lockPath) {
            if (!v.locked) {
              throw new CliError(
                "E_LOCK_MISMATCH",
                `${opts.name} version ${v.version} is unlocked: expected a version registered with a lock, or --lock FILE`,
              );
            }
            stored = validateLock(await envs.lock(opts.name, v.version), `${opts.name} version ${v.version}`);
          }
        } else if (opts.directory) {
          def = loadOrReport(ctx, opts.directory).definition;
          lockPath ??= defaultLockPath(ctx, opts.directory);
        } else {
          throw new CliError("E_USAGE", "expected -n NAME or -d DIR|FILE");
        }
        if (!stored && (!lockPath || !existsSync(lockPath))) {
          throw new CliError(
            "E_LOCK_MISMATCH",
            `expected a lock to compare with (--lock FILE); none at ${lockPath ?? "(not given)"}`,
          );
        }
        const lock = stored ?? parseLock(readFileSync(lockPath as string, "utf8"), lockPath);
        const rows = await withResolverErrors(ctx, () => outdated(def, lock, { cacheDir: cacheDir(ctx) }));
        if (opts.json) return ctx.out(formatJson(rows));
        if (!rows.length) return ctx.out("Everything is up to date.");
        ctx.out(
          sanitize(
            formatTable(rows, [
              { header: "PLATFORM", value: (r) => r.platform },
              { header: "KIND", value: (r) => r.kind },
              { header: "PACKAGE", value: (r) => r.name },
              { header: "LOCKED", value: (r) => r.locked ?? "-" },
              { header: "NOW", value: (r) => r.latest ?? "(removed)" },
            ]),
          ),
        );
      },
    );
}
