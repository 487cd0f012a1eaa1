import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { EnvironmentDefinition, Lock } from "@mlenv/core";
import type { CondaChannel, LockOptions } from "@mlenv/resolver";
import { type Command, Option } from "commander";
import { type CliContext, CliError } from "../context";
import { formatTable } from "../output";
import type { Progress } from "../progress";
import { loadOrReport } from "./envOffline";
import { parseVersionOfName } from "./versionNumber";

// The resolver, core and the conda configuration load when a command runs.
const core = () => import("@mlenv/core");
const resolver = () => import("@mlenv/resolver");

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
  const { isResolverError } = await resolver();
  try {
    return await f();
  } catch (e) {
    if (isResolverError(e)) {
      if (e.explanation.length) {
        ctx.endProgress();
        ctx.err(`error: ${e.message.split("\n")[0]} [${e.code}]`, "red");
        ctx.err(e.explanation.map((line) => `  ${line}`).join("\n"));
        throw new CliError(e.code, "", { cause: e });
      }
      throw new CliError(e.code, e.message, { cause: e });
    }
    throw e;
  }
}

/**
 * The resolver options every locking command uses: the repodata cache, the user's conda channel
 * configuration for a definition without channels (said in one note line, or an error when
 * there are none), and a progress line on a terminal.
 */
async function lockOptions(
  ctx: CliContext,
  def: EnvironmentDefinition,
  shown: string,
  progress: Progress,
): Promise<LockOptions> {
  const { condaChannel, lockChannels } = await resolver();
  const options: LockOptions = {
    cacheDir: cacheDir(ctx),
    channel: watchedChannels(progress, condaChannel, cacheDir(ctx)),
  };
  const cuda = await cudaForLock(ctx, def);
  if (cuda.version) {
    options.virtualPackages = { cuda: cuda.version };
    ctx.note(`__cuda ${cuda.version} (from ${cuda.source})`);
  }
  if (def.python.condaDependencies.channels?.length) return options;
  const { readCondaChannelConfig } = await import("../internal/condarc");
  const config = readCondaChannelConfig(ctx.io.env);
  const used = lockChannels([], config);
  const where = config.sources.length
    ? `conda configuration: ${config.sources.join(", ")}`
    : "conda's defaults: no .condarc sets channels";
  if (used.length === 0) {
    throw new CliError(
      "E_NO_CHANNELS",
      `${shown} lists no channels and the conda configuration (${config.sources.join(", ")}) sets none: expected channels such as [conda-forge] in the definition or in ~/.condarc`,
    );
  }
  ctx.note(`${shown} lists no channels: using ${used.join(", ")} (${where})`);
  options.condaConfig = { channels: config.channels, defaultChannels: config.defaultChannels };
  return options;
}

/** Channels that report their repodata fetches (files, bytes) to a progress line. */
function watchedChannels(
  progress: Progress,
  condaChannel: (location: string, options: { cacheDir?: string }) => CondaChannel,
  cache?: string,
): (location: string) => CondaChannel {
  let files = 0;
  let bytes = 0;
  let pending = 0;
  const started = (what: string) => {
    pending++;
    progress.update({ phase: "fetching repodata", detail: what, bytes });
  };
  const finished = () => {
    pending--;
    files++;
    progress.update(
      pending
        ? { detail: `${files} files` }
        : { phase: "solving", detail: `${files} repodata files read`, bytes },
    );
  };
  return (location) => {
    const ch = condaChannel(location, cache ? { cacheDir: cache } : {});
    const name = ch.url.replace(/^https?:\/\//, "");
    const watched: CondaChannel = {
      kind: "conda",
      url: ch.url,
      records: async (subdir, o) => {
        started(`${name}/${subdir}`);
        try {
          return await ch.records(subdir, o);
        } finally {
          finished();
        }
      },
    };
    const source = ch.source?.bind(ch);
    if (source) {
      watched.source = async (subdir, o) => {
        started(`${name}/${subdir}`);
        const alloc = o?.alloc;
        try {
          return await source(subdir, {
            ...o,
            // The body's size, from its Content-Length, before it is read.
            alloc: (size: number) => {
              bytes += size;
              progress.update({ bytes });
              return alloc ? alloc(size) : Buffer.allocUnsafe(size);
            },
          });
        } finally {
          finished();
        }
      };
    }
    return watched;
  };
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
 * The `__cuda` virtual package a lock is made for: CONDA_OVERRIDE_CUDA wins (empty: none); a GPU
 * definition is locked for its image (`docker.cudaVersion`, else the GPU base image's CUDA);
 * any other definition for this machine's driver (`nvidia-smi`), as a local install would be.
 */
export async function cudaForLock(
  ctx: CliContext,
  def: EnvironmentDefinition,
): Promise<{ version: string | null; source: string }> {
  const override = ctx.io.env.CONDA_OVERRIDE_CUDA;
  if (override === undefined) {
    const { definitionCudaVersion } = await core();
    const fromDefinition = definitionCudaVersion(def);
    if (fromDefinition) {
      return {
        version: fromDefinition,
        source: def.docker.cudaVersion !== null ? "docker.cudaVersion" : "the GPU base image",
      };
    }
  }
  const { detectCuda } = await resolver();
  const found = await withResolverErrors(ctx, () => detectCuda({ env: ctx.io.env }));
  return { version: found.version, source: found.source };
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
  const { isResolverError, lockEnvironment } = await resolver();
  const progress = ctx.progress("locking");
  try {
    const options = await lockOptions(ctx, def, directory, progress);
    return { lock: await lockEnvironment(def, options), source: "resolved now" };
  } catch (e) {
    if (!isResolverError(e) && !(e instanceof CliError && e.code === "E_NO_CHANNELS")) throw e;
    // Which of several parallel fetches failed first varies: name the cause, not the URL.
    const why =
      e.code === "E_FETCH_FAILED"
        ? "the definition's channels or indexes are unreachable"
        : (e.message.split("\n")[0] ?? "").slice(0, 200);
    return {
      warning: `warning: registering unlocked: no mlenv.lock beside the definition and locking failed (${why}) [${e.code}]; run mlenv env lock -d ${directory} where they are reachable, or pass --lock FILE`,
    };
  } finally {
    progress.done();
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
        const def = (await loadOrReport(ctx, opts.directory)).definition;
        const lockPath = opts.output ? ctx.path(opts.output) : defaultLockPath(ctx, opts.directory);
        const platforms = opts.platform ?? def.platforms;
        const [{ parseLock, serializeLock }, { checkLock, lockEnvironment }] = await Promise.all([
          core(),
          resolver(),
        ]);
        if (opts.check) {
          if (!existsSync(lockPath))
            throw new CliError(
              "E_LOCK_MISMATCH",
              `no lock at ${lockPath}: run mlenv env lock -d ${opts.directory}`,
              { exitCode: 2 },
            );
          const res = checkLock(def, parseLock(readFileSync(lockPath, "utf8"), lockPath), platforms);
          if (opts.json) ctx.json(res);
          else if (res.ok) ctx.out(`Lock is up to date: ${lockPath}`, "green");
          if (!res.ok) {
            if (!opts.json) for (const r of res.reasons) ctx.err(`lock out of date: ${r}`, "red");
            throw new CliError("E_LOCK_MISMATCH", "", { exitCode: 2 });
          }
          return;
        }
        const progress = ctx.progress("locking");
        let lock: Lock;
        try {
          const options = await lockOptions(ctx, def, opts.directory, progress);
          lock = await withResolverErrors(ctx, () => lockEnvironment(def, { ...options, platforms }));
        } finally {
          progress.done();
        }
        writeFileSync(lockPath, serializeLock(lock));
        if (opts.json) return ctx.json(lock);
        for (const [p, e] of Object.entries(lock.platforms)) {
          ctx.out(`${p}: ${e.conda.length} conda, ${e.pip.length} pip packages`);
        }
        ctx.out(`Wrote ${lockPath}`);
      },
    );

  env
    .command("outdated")
    .description("Show packages that would now resolve to other versions than the lock pins.")
    .option("-n, --name <name>", "registered environment (its stored lock; latest version unless -v)")
    .option("-v, --version <n>", "version of -n NAME", parseVersionOfName)
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
        const [{ parseDefinition, parseLock, validateLock }, { outdated }] = await Promise.all([
          core(),
          resolver(),
        ]);
        let shown: string;
        if (opts.name) {
          shown = opts.name;
          const envs = (await ctx.workspace()).environments;
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
          shown = opts.directory;
          def = (await loadOrReport(ctx, opts.directory)).definition;
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
        const progress = ctx.progress("locking");
        let rows: Awaited<ReturnType<typeof outdated>>;
        try {
          const options = await lockOptions(ctx, def, shown, progress);
          rows = await withResolverErrors(ctx, () => outdated(def, lock, options));
        } finally {
          progress.done();
        }
        if (opts.json) return ctx.json(rows);
        if (!rows.length) return ctx.out("Everything is up to date.", "green");
        ctx.out(
          formatTable(rows, [
            { header: "PLATFORM", value: (r) => r.platform },
            { header: "KIND", value: (r) => r.kind },
            { header: "PACKAGE", value: (r) => r.name },
            { header: "LOCKED", value: (r) => r.locked ?? "-" },
            { header: "NOW", value: (r) => r.latest ?? "(removed)" },
          ]),
        );
      },
    );

  env
    .command("install")
    .description(
      "Install a locked environment into a conda prefix without conda (locks first when there is no lock).",
    )
    .option("-d, --directory <path>", "definition folder or file (uses mlenv.lock beside it)")
    .option("-n, --name <name>", "registered environment (its stored lock; latest version unless -v)")
    .option("-v, --version <n>", "version of -n NAME", parseVersionOfName)
    .requiredOption("--prefix <path>", "the environment folder to create or update")
    .option("--lock <file>", "the lock to install (default: mlenv.lock beside the definition)")
    .addOption(
      new Option("--platform <platform>", "the lock's platform to install (default: this machine's)").choices(
        PLATFORMS,
      ),
    )
    .option("--run-link-scripts", "run packages' pre-/post-link scripts (not run by default)")
    .option("--no-pip", "skip the lock's pip packages")
    .option("--json", "print JSON")
    .action(
      async (opts: {
        directory?: string;
        name?: string;
        version?: number;
        prefix: string;
        lock?: string;
        platform?: string;
        runLinkScripts?: boolean;
        pip: boolean;
        json?: boolean;
      }) => {
        const [{ parseDefinition, parseLock, validateLock }, installer] = await Promise.all([
          core(),
          import("@mlenv/conda-installer"),
        ]);
        const platform = opts.platform ?? installer.currentPlatform();
        let lock: Lock;
        if (opts.lock) {
          const p = ctx.path(opts.lock);
          if (!existsSync(p))
            throw new CliError("E_USAGE", `expected a lock file at --lock ${opts.lock}; none found`);
          lock = parseLock(readFileSync(p, "utf8"), p);
        } else if (opts.name) {
          const envs = (await ctx.workspace()).environments;
          const v = await envs.get(opts.name, opts.version === undefined ? {} : { version: opts.version });
          if (v.locked)
            lock = validateLock(await envs.lock(opts.name, v.version), `${opts.name} version ${v.version}`);
          else {
            const def = parseDefinition(v.definition);
            ctx.note(`${opts.name} version ${v.version} is unlocked: locking it for ${platform} now`);
            lock = await lockNow(def, opts.name, platform);
          }
        } else if (opts.directory) {
          const beside = defaultLockPath(ctx, opts.directory);
          if (existsSync(beside)) lock = parseLock(readFileSync(beside, "utf8"), beside);
          else {
            const def = (await loadOrReport(ctx, opts.directory)).definition;
            ctx.note(
              `no mlenv.lock beside ${opts.directory}: locking for ${platform} now (mlenv env lock keeps one)`,
            );
            lock = await lockNow(def, opts.directory, platform);
          }
        } else {
          throw new CliError("E_USAGE", "expected -d DIR|FILE, -n NAME or --lock FILE");
        }
        const progress = ctx.progress("installing");
        let result: Awaited<ReturnType<typeof installer.installLock>>;
        try {
          const base = ctx.io.env.XDG_CACHE_HOME || join(ctx.io.env.HOME ?? ctx.io.cwd, ".cache");
          result = await installer.installLock({
            prefix: ctx.path(opts.prefix),
            lock,
            platform,
            cacheDir: join(base, "mlenv", "pkgs"),
            pip: opts.pip,
            ...(opts.runLinkScripts ? { runLinkScripts: true } : {}),
            command: `mlenv env install --prefix ${opts.prefix}`,
            onProgress: (e) => {
              if (e.phase === "fetch") progress.update({ phase: "fetching packages", bytes: e.bytes });
              else if (e.phase === "cached")
                progress.update({ phase: "fetching packages", detail: `${e.done}/${e.total} in cache` });
              else if (e.phase === "link")
                progress.update({ phase: "linking", detail: `${e.done}/${e.total} ${e.package}` });
              else if (e.phase === "unlink") progress.update({ phase: "unlinking", detail: e.package });
              else progress.update({ phase: "pip", detail: `${e.packages} packages` });
            },
          });
        } catch (e) {
          if (installer.isCondaInstallError(e)) throw new CliError(e.code, e.message, { cause: e });
          throw e;
        } finally {
          progress.done();
        }
        for (const w of result.warnings) ctx.err(`warning: ${w}`, "yellow");
        if (opts.json) return ctx.json(result);
        ctx.out(
          `Installed ${platform} into ${result.prefix}: ${result.linked.length} linked, ${result.unlinked.length} removed, ${result.unchanged.length} unchanged conda packages (${result.fetched.length} fetched, ${(result.fetchedBytes / 2 ** 20).toFixed(1)} MiB), ${result.pip.length} pip packages`,
          "green",
        );
      },
    );

  async function lockNow(def: EnvironmentDefinition, shown: string, platform: string): Promise<Lock> {
    const { lockEnvironment } = await resolver();
    const progress = ctx.progress("locking");
    try {
      const options = await lockOptions(ctx, def, shown, progress);
      return await withResolverErrors(ctx, () => lockEnvironment(def, { ...options, platforms: [platform] }));
    } finally {
      progress.done();
    }
  }
}
