import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { delimiter, dirname, join } from "node:path";
import {
  condaPackages,
  type EnvironmentDefinition,
  type Lock,
  pipEntries,
  renderPipRequirements,
} from "@mlenv/core";
import type { Confinement } from "./confinement";
import { acquireEnvLock, type EnvLockOptions } from "./envLock";
import { RunFailure, RunFailureCode } from "./errors";
import { runCollect } from "./process";

/** Conda packages a plain venv provides itself (the interpreter and pip). */
const VENV_PROVIDED = new Set(["python", "pip"]);

/** The name part of a conda spec string such as `numpy>=1.2`, `conda-forge::scipy=1.11`. */
export function condaSpecName(spec: string): string {
  const s = spec.includes("::") ? spec.slice(spec.indexOf("::") + 2) : spec;
  return (
    s
      .trim()
      .split(/[\s=<>!~[]/)[0]
      ?.toLowerCase() ?? ""
  );
}

/** The first `python=X.Y` of a conda document, if any. */
function pythonSpec(def: EnvironmentDefinition): string | null {
  for (const spec of condaPackages(def.python.condaDependencies)) {
    if (condaSpecName(spec) === "python")
      return (
        spec
          .trim()
          .slice("python".length)
          .replace(/^[=\s]+/, "") || null
      );
  }
  return null;
}

/** The server's PATH/HOME/locale and PIP_* settings (a mirror, a CA bundle), nothing else of its environment. */
function pipBaseEnvironment(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith("PIP_") || ["PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SSL_CERT_FILE"].includes(k))
      env[k] = v;
  }
  return env;
}

/** An executable on PATH, or null. */
export function onPath(name: string, path = process.env.PATH ?? ""): string | null {
  for (const dir of path.split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    if (existsSync(candidate)) return candidate;
  }
  return null;
}

/** The interpreter a run or service uses. */
export interface Interpreter {
  /** Absolute path (venv) or the user-managed interpreter as given. */
  python: string;
  /** The venv directory, null for user-managed environments. */
  venvDir: string | null;
  /** True when the venv already existed (nothing was installed). */
  cached: boolean;
}

export interface MaterialiseInput {
  definition: EnvironmentDefinition;
  imageKey: string;
  lock: Lock | null;
  /**
   * Turn the pip block into requirement lines pip can use (e.g. `mlenv+wheel://` references into
   * signed URLs) and the environment pip needs (secret references). Identity by default.
   */
  preparePip?: (lines: string[]) => Promise<{ lines: string[]; env: Record<string, string> }>;
  log: (text: string) => void;
  /** The workspace account that runs pip and probes (uid confinement), from `Confinement.account`. */
  account?: number | null;
}

export interface VenvCacheOptions {
  /** Where venvs live: `<root>/<imageKey hex>` (e.g. `<dataDir>/venvs`). */
  root: string;
  /** The base interpreter (default `python3`). */
  python?: string;
  /** Extra environment for pip (e.g. `PIP_INDEX_URL` for an offline mirror). */
  pipEnv?: Record<string, string>;
  /** The conda package cache (default `<root>/../pkgs`, i.e. `<dataDir>/pkgs`). */
  condaPkgsDir?: string;
  /**
   * Confines what runs user-controlled code (the interpreter probe, venv creation, pip and the
   * build hooks of what it installs): built as the workspace's account, then sealed (owned by the
   * server, read-only for everyone else).
   */
  confinement?: Confinement;
  /**
   * The build lock's timing and this machine's name in it (see `acquireEnvLock`): the defaults
   * suit a directory shared by several machines.
   */
  lock?: Pick<EnvLockOptions, "host" | "beatMs" | "staleMs" | "pollMs">;
  /**
   * This machine's `__cuda` version (its NVIDIA driver's CUDA, CONDA_OVERRIDE_CUDA first; null
   * without a driver), for conda environments locked here: CUDA builds only where a driver runs them.
   */
  cuda?: () => Promise<string | null>;
}

/**
 * Materialises environments on this machine as Python venvs, one per image key, built once and
 * reused (a `.mlenv-complete` marker says a venv finished installing).
 */
export class VenvCache {
  readonly #opts: VenvCacheOptions;
  readonly #pending = new Map<string, Promise<Interpreter>>();

  constructor(options: VenvCacheOptions) {
    this.#opts = options;
  }

  /** The venv directory of an image key. */
  dirFor(imageKey: string): string {
    const hex = imageKey.replace(/^.*:/, "");
    if (!/^[0-9a-f]{16,128}$/.test(hex)) throw new Error(`not an image key: ${imageKey.slice(0, 100)}`);
    return join(this.#opts.root, hex);
  }

  async materialise(input: MaterialiseInput): Promise<Interpreter> {
    const def = input.definition;
    if (def.python.userManagedDependencies) return this.#userManaged(def, input);
    const needConda = condaPackages(def.python.condaDependencies)
      .map(condaSpecName)
      .filter((n) => n && !VENV_PROVIDED.has(n));
    const conda = needConda.length > 0;
    const dir = this.dirFor(input.imageKey);
    const running = this.#pending.get(dir);
    if (running) return running;
    const p = this.#build(dir, input, conda).finally(() => this.#pending.delete(dir));
    this.#pending.set(dir, p);
    return p;
  }

  /** Run a command as the workspace's account (when confined), `writable` the folders it may write. */
  #run(
    input: Pick<MaterialiseInput, "account">,
    command: string,
    args: readonly string[],
    options: {
      cwd: string;
      writable?: string[];
      env?: NodeJS.ProcessEnv;
      sink?: (s: string, t: string) => void;
    },
  ): Promise<{ code: number | null; output: string[] }> {
    const c = this.#opts.confinement;
    const w = c
      ? c.wrap({
          account: input.account ?? null,
          command,
          args,
          cwd: options.cwd,
          writable: options.writable ?? [],
        })
      : { command, args: [...args] };
    return runCollect(w.command, w.args, {
      cwd: options.cwd,
      ...(options.env ? { env: options.env } : {}),
      ...(options.sink ? { sink: options.sink } : {}),
    });
  }

  async #userManaged(def: EnvironmentDefinition, input: MaterialiseInput): Promise<Interpreter> {
    const log = input.log;
    const python = def.python.interpreterPath;
    // the interpreter is user input: probe it confined, like the run itself
    const probe = await this.#run(input, python, ["-c", "import sys; print(sys.version.split()[0])"], {
      cwd: "/",
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin" },
    }).catch(() => ({ code: 127, output: [] as string[] }));
    if (probe.code !== 0) {
      throw new RunFailure(
        RunFailureCode.INTERPRETER_MISSING,
        `Expected the user-managed interpreter ${JSON.stringify(python).slice(0, 200)} of environment ${def.name} to run on this machine (e.g. "python3" or "/opt/venv/bin/python"); it could not be started`,
      );
    }
    log(`user-managed dependencies: running ${python} (Python ${probe.output.at(-1) ?? "?"}) as is`);
    return { python, venvDir: null, cached: true };
  }

  async #build(dir: string, input: MaterialiseInput, conda: boolean): Promise<Interpreter> {
    const marker = join(dir, ".mlenv-complete");
    const python = join(dir, "bin", "python");
    const ready = (): Interpreter | null => {
      if (!existsSync(marker)) return null;
      input.log(`environment ready: reusing venv ${dir}`);
      return { python, venvDir: dir, cached: true };
    };
    // Another server process, here or on another machine that sees the same directory (a
    // cluster's shared directory), may be building the same environment: wait for it.
    await mkdir(this.#opts.root, { recursive: true });
    const early = ready();
    if (early) return early;
    const held = await acquireEnvLock({
      ...this.#opts.lock,
      path: `${dir}.lock`,
      done: () => existsSync(marker),
      onWait: (holder) =>
        input.log(
          `waiting for another process that is building venv ${dir}${holder ? ` (${holder.host}, pid ${holder.pid})` : ""}`,
        ),
    });
    if (!held) return ready() as Interpreter;
    try {
      const done = ready();
      if (done) return done;
      await rm(dir, { recursive: true, force: true }); // an environment left half-built by a crash
      try {
        if (conda) await this.#createConda(dir, python, input);
        else await this.#create(dir, python, input);
        // readable by every workspace account, writable by none
        await this.#opts.confinement?.seal(dir);
        await writeFile(marker, `${input.imageKey}\n`);
        return { python, venvDir: dir, cached: false };
      } catch (e) {
        await rm(dir, { recursive: true, force: true });
        throw e;
      }
    } finally {
      await held.release();
    }
  }

  /**
   * A conda environment at the venv's place, installed without conda by
   * @mlenv/conda-installer from the run's lock (or a lock made now for this machine's platform),
   * conda packages from the shared package cache, then the lock's pip part with its own pip.
   */
  async #createConda(dir: string, python: string, input: MaterialiseInput): Promise<void> {
    const [{ currentPlatform, installLock }, { lockEnvironment }] = await Promise.all([
      import("@mlenv/conda-installer"),
      import("@mlenv/resolver"),
    ]);
    const platform = currentPlatform();
    let lock = input.lock;
    if (!lock?.platforms[platform]) {
      const cuda = (await this.#opts.cuda?.()) ?? null;
      input.log(
        `locking the conda environment for ${platform}${cuda ? ` (__cuda ${cuda}, this machine's driver)` : ""}`,
      );
      lock = await lockEnvironment(input.definition, {
        platforms: [platform],
        ...(cuda ? { virtualPackages: { cuda } } : {}),
      });
    }
    const pkgs = this.#opts.condaPkgsDir ?? join(dirname(this.#opts.root), "pkgs");
    input.log(
      `installing conda environment ${dir} (${lock.platforms[platform]?.conda.length ?? 0} conda packages, cache ${pkgs})`,
    );
    const result = await installLock({
      prefix: dir,
      lock,
      platform,
      cacheDir: pkgs,
      env: {
        ...pipBaseEnvironment(),
        ...this.#opts.pipEnv,
        PIP_NO_INPUT: "1",
        PIP_DISABLE_PIP_VERSION_CHECK: "1",
      },
      command: `mlenv run (environment ${input.definition.name})`,
    });
    for (const w of result.warnings) input.log(`warning: ${w}`);
    input.log(
      `conda environment ready: ${result.linked.length} conda packages (${result.fetched.length} fetched), ${result.pip.length} pip packages`,
    );
    if (!existsSync(python)) {
      throw new RunFailure(
        RunFailureCode.INTERPRETER_MISSING,
        `Expected the conda environment of ${input.definition.name} to contain bin/python; add python to its conda dependencies`,
      );
    }
  }

  /** A venv of this machine's Python with the environment's pip packages. */
  async #create(dir: string, python: string, input: MaterialiseInput): Promise<void> {
    const base = this.#opts.python ?? "python3";
    const version = await runCollect(base, ["-c", "import sys; print('%d.%d' % sys.version_info[:2])"], {
      cwd: this.#opts.root,
    });
    const wanted = pythonSpec(input.definition);
    const have = version.output.at(-1) ?? "?";
    if (wanted && !wanted.startsWith(have)) {
      input.log(
        `warning: the definition asks for python ${wanted}; this machine's ${base} is Python ${have} (the local target uses the machine's interpreter; use the docker target for an exact Python)`,
      );
    }
    let text: string;
    let hashes = false;
    const env: Record<string, string> = {};
    if (input.lock) {
      text = renderPipRequirements(input.lock, "linux-64");
      hashes = text.length > 0;
    } else {
      const raw = pipEntries(input.definition.python.condaDependencies);
      const prepared = input.preparePip ? await input.preparePip(raw) : { lines: raw, env: {} };
      Object.assign(env, prepared.env);
      text = prepared.lines.length ? `${prepared.lines.join("\n")}\n` : "";
    }
    // Nothing to install: no pip inside the venv either (seconds instead of ensurepip's ~15 s).
    const withPip = text.trim() !== "";
    input.log(
      `creating venv ${dir} with ${base} (Python ${have})${withPip ? "" : " without pip: no pip packages"}`,
    );
    const sink = (_s: string, t: string) => input.log(t);
    // built as the workspace's account in a folder it owns, sealed when complete
    await mkdir(dir, { recursive: true });
    await this.#opts.confinement?.own(dir, input.account ?? null);
    const made = await this.#run(input, base, ["-m", "venv", ...(withPip ? [] : ["--without-pip"]), dir], {
      cwd: dir,
      writable: [dir],
      env: { ...pipBaseEnvironment(), HOME: dir },
      sink,
    });
    if (made.code !== 0) {
      throw new RunFailure(
        RunFailureCode.VENV_FAILED,
        `Expected \`${base} -m venv\` to create a venv (is the python3-venv package installed?); it exited with ${made.code}: ${made.output.slice(-3).join(" | ").slice(0, 200)}`,
      );
    }
    if (text.trim()) {
      const req = join(dir, `.mlenv-requirements-${randomBytes(4).toString("hex")}.txt`);
      await writeFile(req, text, { mode: 0o600 });
      await this.#opts.confinement?.own(req, input.account ?? null);
      const args = ["-m", "pip", "install", "--no-input", "--disable-pip-version-check", "-r", req];
      if (hashes) args.push("--require-hashes", "--no-deps");
      input.log(
        `pip install (${text.trim().split("\n").length} requirement lines${input.lock ? ", from the lock" : ""})`,
      );
      const pip = await this.#run(input, python, args, {
        cwd: dir,
        writable: [dir],
        env: {
          ...pipBaseEnvironment(),
          ...(this.#opts.confinement?.confined ? { HOME: dir, PIP_NO_CACHE_DIR: "1" } : {}),
          ...this.#opts.pipEnv,
          ...env,
          PIP_NO_INPUT: "1",
        },
        sink,
      });
      await rm(req, { force: true });
      if (pip.code !== 0) {
        throw new RunFailure(
          RunFailureCode.PIP_FAILED,
          `Expected pip to install the environment's requirements; it exited with ${pip.code}: ${pip.output.slice(-3).join(" | ").slice(0, 200)}`,
        );
      }
    }
  }
}
