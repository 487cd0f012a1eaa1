import { spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, lstatSync, mkdirSync, readdirSync, statSync } from "node:fs";
import { chmod, lchown, lstat, mkdir, readdir, readFile, rm, rmdir, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { ServerError, ServerErrorCode } from "../errors";
import { runCollect } from "./process";
import { onPath } from "./venv";

/**
 * How a server runs user code on the local target (scripts, service entry scripts, pip builds,
 * user-managed interpreters), chosen once at start (docs/security.md):
 * - `uid`: the server is root. Each workspace's code runs as its own unprivileged account
 *   (uid = gid, allocated once per workspace under `<dataDir>/sandbox`), without supplementary
 *   groups or new privileges, in its own PID namespace where the kernel allows one, with
 *   resource limits; the data dir is searchable but not readable by others and everything in
 *   it except `venvs` and `work` is private to the server; each run's folder belongs to its
 *   workspace's account (0700).
 * - `bwrap`: the server is not root and bubblewrap works: code runs as the server's user in a
 *   bubblewrap sandbox (read-only root, the data dir, blob dir and the server's home hidden,
 *   only the run's folder writable, own PID namespace that dies with the server).
 * - `none`: nothing confines it. The local target is then refused on servers with more than one
 *   workspace unless an admin sets `MLENV_LOCAL_TARGET=unconfined`.
 */
export type ConfinementMode = "uid" | "bwrap" | "none";

/** `confined` (default): confine, or refuse with several workspaces; `unconfined`: allow unconfined; `off`: no local target. */
export type LocalTargetPolicy = "confined" | "unconfined" | "off";

export const LOCAL_TARGET_POLICIES: readonly LocalTargetPolicy[] = ["confined", "unconfined", "off"];

export interface ConfinementOptions {
  dataDir: string;
  /** Blob store root when outside the data dir (hidden from user code too). */
  blobDir?: string | undefined;
  policy?: LocalTargetPolicy | undefined;
  /** bubblewrap executable; `null` never uses it (default: `bwrap` on PATH). */
  bwrap?: string | null | undefined;
  /** First uid of workspace accounts in `uid` mode (default 1_000_000_000). */
  uidBase?: number | undefined;
  /** Where `mlenv_run.py` and friends live (copied where run accounts can read them). */
  helperDir: string;
}

/** Resource limits of user code (prlimit); `nproc` counts per account, so only in `uid` mode. */
const LIMITS = { nofile: 8192, nproc: 4096, core: 0 };

/** bubblewrap's view of the machine for user code: the root read-only, a fresh /dev and /proc. */
const BWRAP_ROOT_VIEW = ["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"];

/** A command line for a confined child. */
export interface Wrapped {
  command: string;
  args: string[];
}

export interface WrapInput {
  /** The workspace account (uid mode), from `account()`. */
  account: number | null;
  command: string;
  args: readonly string[];
  cwd: string;
  /** Folders user code may write (the run's folder). */
  writable?: readonly string[];
  /** Folders user code may read that bubblewrap would hide (a venv under the data dir). */
  readable?: readonly string[];
  /**
   * Whether user code keeps the machine's network (default true). False puts it in an empty
   * network namespace (only a loopback of its own) where the mode allows one (uid: `unshare
   * --net`, bwrap: `--unshare-net`); unix sockets on reachable paths still work.
   */
  network?: boolean;
}

function ok(command: string, args: string[]): boolean {
  const r = spawnSync(command, args, { stdio: "ignore", timeout: 10_000 });
  return r.status === 0;
}

/** Every ancestor of `dir` must be searchable by other users for run accounts to reach their folders. */
function unsearchableAncestor(dir: string): string | null {
  let d = resolve(dir);
  for (;;) {
    const parent = dirname(d);
    if (parent === d) return null;
    d = parent;
    try {
      if ((statSync(d).mode & 0o001) === 0) return d;
    } catch {
      return d;
    }
  }
}

export class Confinement {
  readonly mode: ConfinementMode;
  /** Why a stronger mode was not used (logged at start). */
  readonly reason: string;
  readonly policy: LocalTargetPolicy;
  /** `mlenv_run.py`, `mlenv_serve.py`: readable by user code. */
  readonly helperDir: string;
  readonly #o: ConfinementOptions;
  readonly #bwrap: string | null;
  readonly #pidNamespace: boolean;
  /** Whether `unshare --net` works (uid mode): runs that did not ask for network get none. */
  readonly #netNamespace: boolean;
  readonly #uidBase: number;
  readonly #accounts = new Map<string, Promise<number>>();

  constructor(options: ConfinementOptions) {
    this.#o = options;
    this.policy = options.policy ?? "confined";
    this.#uidBase = options.uidBase ?? 1_000_000_000;
    const reasons: string[] = [];
    const root = process.getuid?.() === 0;
    let mode: ConfinementMode = "none";
    const setpriv = onPath("setpriv");
    const prlimit = onPath("prlimit");
    if (root) {
      const blocked = unsearchableAncestor(options.dataDir);
      if (!setpriv || !prlimit) reasons.push("setpriv and prlimit (util-linux) are needed for run accounts");
      else if (blocked) {
        reasons.push(
          `${blocked} (a parent of the data dir) is not searchable by other users, so run accounts could not reach their folders; move the data dir`,
        );
      } else if (
        !ok(setpriv, [
          "--reuid",
          String(this.#uidBase),
          "--regid",
          String(this.#uidBase),
          "--clear-groups",
          "--no-new-privs",
          "--",
          "true",
        ])
      ) {
        reasons.push(`switching to uid ${this.#uidBase} failed (no CAP_SETUID, or the uid is not mapped)`);
      } else mode = "uid";
    } else reasons.push("the server is not root, so it cannot run code as other accounts");
    this.#pidNamespace =
      mode === "uid" &&
      ok("unshare", ["--pid", "--fork", "--kill-child=SIGKILL", "--mount-proc", "--", "true"]);
    this.#netNamespace = mode === "uid" && ok("unshare", ["--net", "--", "true"]);
    let bwrap: string | null = null;
    if (mode === "none" && options.bwrap !== null) {
      const candidate = options.bwrap ?? onPath("bwrap");
      if (!candidate) reasons.push("bubblewrap (bwrap) is not installed");
      else if (!ok(candidate, ["--die-with-parent", "--unshare-pid", ...BWRAP_ROOT_VIEW, "--", "true"])) {
        reasons.push(`${candidate} could not create a sandbox (user namespaces disabled?)`);
      } else {
        bwrap = candidate;
        mode = "bwrap";
      }
    }
    this.#bwrap = bwrap;
    this.mode = mode;
    this.reason = reasons.join("; ");
    this.helperDir = options.helperDir;
    if (mode === "uid") {
      this.helperDir = join(options.dataDir, "work", "helpers");
      this.harden();
      mkdirSync(this.helperDir, { recursive: true, mode: 0o755 });
      chmodSync(this.helperDir, 0o755);
      for (const f of readdirSync(options.helperDir)) {
        if (!f.endsWith(".py")) continue;
        copyFileSync(join(options.helperDir, f), join(this.helperDir, f));
        chmodSync(join(this.helperDir, f), 0o644);
      }
    }
  }

  /** One line for a run's log: how its code is confined. */
  describe(account: number | null): string {
    if (this.mode === "uid") {
      return `runs as account ${account} of its workspace${this.#pidNamespace ? " in its own PID namespace" : ""}, data dir unreadable`;
    }
    if (this.mode === "bwrap") return "bubblewrap sandbox (read-only system, data dir hidden)";
    return `NOT confined: ${this.reason}`;
  }

  /** True when code that did not ask for network gets an empty network namespace. */
  get isolatesNetwork(): boolean {
    return (this.mode === "uid" && this.#netNamespace) || this.mode === "bwrap";
  }

  /** True when user code is confined (uid or bwrap). */
  get confined(): boolean {
    return this.mode !== "none";
  }

  /**
   * In `uid` mode: the data dir searchable (0711) but not listable; every entry in it other than
   * `venvs` and `work` private to the server (files created later must be 0600 or inside a
   * private folder: this runs again before any user code starts); `work/*` searchable only.
   */
  harden(): void {
    if (this.mode !== "uid") return;
    const d = this.#o.dataDir;
    mkdirSync(d, { recursive: true });
    chmodSync(d, 0o711);
    for (const name of readdirSync(d)) {
      if (name === "venvs" || name === "work") continue;
      const p = join(d, name);
      const st = lstatSync(p);
      if (!st.isSymbolicLink() && (st.mode & 0o077) !== 0) chmodSync(p, st.mode & 0o700);
    }
    if (this.#o.blobDir) {
      mkdirSync(this.#o.blobDir, { recursive: true });
      chmodSync(this.#o.blobDir, 0o700);
    }
    for (const sub of ["venvs", "work", "work/runs", "work/services"]) {
      mkdirSync(join(d, sub), { recursive: true });
      chmodSync(join(d, sub), 0o711);
    }
  }

  /**
   * Refuse the local target when policy says so: `off`, or unconfined with several workspaces
   * and no explicit `unconfined` setting.
   */
  async checkLocalAllowed(workspaceCount: () => Promise<number>): Promise<void> {
    if (this.policy === "off") {
      throw new ServerError(
        ServerErrorCode.LOCAL_TARGET_REFUSED,
        'Expected target "docker": an admin turned the local target off on this server (MLENV_LOCAL_TARGET=off); received "local"',
      );
    }
    if (this.confined || this.policy === "unconfined") return;
    const n = await workspaceCount();
    if (n > 1) {
      throw new ServerError(
        ServerErrorCode.LOCAL_TARGET_REFUSED,
        `The local target is refused: this server cannot confine user code (${this.reason}) and it has ${n} workspaces, so one workspace's run could read the others' data. Use target "docker", run the server as root or with bubblewrap installed, or let an admin accept the risk with MLENV_LOCAL_TARGET=unconfined`,
      );
    }
  }

  /** The uid (= gid) of a workspace's account in `uid` mode (allocated once, kept in the data dir). */
  account(workspaceId: string): Promise<number | null> {
    if (this.mode !== "uid") return Promise.resolve(null);
    if (!/^[A-Za-z0-9_-]{1,100}$/.test(workspaceId)) throw new Error(`not a workspace id: ${workspaceId}`);
    let p = this.#accounts.get(workspaceId);
    if (!p) {
      p = this.#allocate(workspaceId);
      this.#accounts.set(workspaceId, p);
      p.catch(() => this.#accounts.delete(workspaceId));
    }
    return p;
  }

  async #allocate(workspaceId: string): Promise<number> {
    const dir = join(this.#o.dataDir, "sandbox");
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await chmod(dir, 0o700);
    const file = join(dir, `workspace-${workspaceId}`);
    const read = async () => {
      const n = Number((await readFile(file, "utf8")).trim());
      if (!Number.isSafeInteger(n) || n < this.#uidBase) throw new Error(`${file} holds no account uid`);
      return n;
    };
    try {
      return await read();
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
    }
    // a lease per uid (created exclusively) keeps processes sharing this data dir from colliding
    for (let uid = this.#uidBase + 1; ; uid++) {
      try {
        await writeFile(join(dir, `uid-${uid}`), `${workspaceId}\n`, { flag: "wx", mode: 0o600 });
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === "EEXIST") continue;
        throw e;
      }
      try {
        await writeFile(file, `${uid}\n`, { flag: "wx", mode: 0o600 });
        return uid;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === "EEXIST") return read();
        throw e;
      }
    }
  }

  /** Give a folder (recursively) to a workspace account, private to it (uid mode). */
  async own(dir: string, account: number | null): Promise<void> {
    if (account === null) return;
    await walk(dir, async (p, isDir, isLink) => {
      await lchown(p, account, account);
      if (!isLink) await chmod(p, isDir ? 0o700 : ((await lstat(p)).mode & 0o700) | 0o600);
    });
  }

  /**
   * Take back a folder user code built (a venv): owned by the server, nobody else may write it,
   * everyone may read it.
   */
  async seal(dir: string): Promise<void> {
    if (this.mode !== "uid") return;
    const uid = process.getuid?.() ?? 0;
    const gid = process.getgid?.() ?? 0;
    await walk(dir, async (p, isDir, isLink) => {
      await lchown(p, uid, gid);
      if (isLink) return;
      const mode = (await lstat(p)).mode & 0o7777 & ~0o6022; // no setuid/setgid, no group/other write
      await chmod(p, isDir || mode & 0o100 ? mode | 0o755 : mode | 0o644);
    });
  }

  /**
   * Remove a folder user code wrote: its own account empties it first (so links it planted
   * cannot make the server delete anything else), then the server removes what is left.
   */
  async remove(dir: string, account: number | null): Promise<void> {
    if (account !== null) {
      await runCollect(
        "setpriv",
        [...this.#drop(account), "--", "rm", "-rf", "--one-file-system", "--", `${dir}/`],
        { cwd: "/" },
      ).catch(() => {});
      await rmdir(dir).catch(() => {});
      return;
    }
    await rm(dir, { recursive: true, force: true });
  }

  #drop(account: number): string[] {
    return ["--reuid", String(account), "--regid", String(account), "--clear-groups", "--no-new-privs"];
  }

  #limits(account: number | null): string[] {
    return [
      `--nofile=${LIMITS.nofile}`,
      `--core=${LIMITS.core}`,
      ...(account !== null ? [`--nproc=${LIMITS.nproc}`] : []),
    ];
  }

  /**
   * The command line that runs `command args` confined, dying with the server
   * (PR_SET_PDEATHSIG; in a PID namespace the whole tree goes with it).
   */
  wrap(input: WrapInput): Wrapped {
    const inner = ["prlimit", ...this.#limits(input.account), "--", input.command, ...input.args];
    if (this.mode === "uid") {
      if (input.account === null) throw new Error("uid confinement needs a workspace account");
      // the kernel clears a parent-death signal when the uid changes: set it after the switch
      const drop = ["setpriv", ...this.#drop(input.account), "--pdeathsig", "SIGKILL", "--", ...inner];
      const namespaces = [
        ...(this.#pidNamespace ? ["--pid", "--fork", "--kill-child=SIGKILL", "--mount-proc"] : []),
        ...(this.#netNamespace && input.network === false ? ["--net"] : []),
      ];
      const args = namespaces.length
        ? ["--pdeathsig", "SIGKILL", "--", "unshare", ...namespaces, "--", ...drop]
        : [...this.#drop(input.account), "--pdeathsig", "SIGKILL", "--", ...inner];
      return { command: "setpriv", args };
    }
    if (this.mode === "bwrap" && this.#bwrap) {
      const hidden = [this.#o.dataDir, ...(this.#o.blobDir ? [this.#o.blobDir] : [])];
      const home = process.env.HOME ?? homedir();
      if (home && home !== "/") hidden.push(home);
      const args = [
        "--die-with-parent",
        "--unshare-pid",
        "--unshare-ipc",
        ...(input.network === false ? ["--unshare-net"] : []),
        ...BWRAP_ROOT_VIEW,
        "--tmpfs",
        "/tmp",
        ...hidden.flatMap((h) => ["--tmpfs", h]),
        ...(input.readable ?? []).flatMap((r) => ["--ro-bind", r, r]),
        ...(input.writable ?? []).flatMap((w) => ["--bind", w, w]),
        "--chdir",
        input.cwd,
        "--",
        ...inner,
      ];
      return { command: this.#bwrap, args };
    }
    return onPath("setpriv")
      ? { command: "setpriv", args: ["--pdeathsig", "SIGKILL", "--", ...inner] }
      : { command: inner[0]!, args: inner.slice(1) };
  }
}

/** Visit a tree depth-first, children before their folder, never following links. */
async function walk(
  dir: string,
  visit: (path: string, isDir: boolean, isLink: boolean) => Promise<void>,
): Promise<void> {
  const st = await lstat(dir);
  if (st.isDirectory()) {
    for (const e of await readdir(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) await walk(p, visit);
      else await visit(p, false, e.isSymbolicLink());
    }
    await visit(dir, true, false);
  } else await visit(dir, false, st.isSymbolicLink());
}
