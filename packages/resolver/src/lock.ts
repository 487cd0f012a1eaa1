import {
  canonicalizeName,
  condaPackages,
  definitionHash,
  type EnvironmentDefinition,
  LOCK_VERSION,
  type Lock,
  type LockedCondaPackage,
  type LockedPipPackage,
  pipEntries,
  validateLock,
} from "@mlenv/core";
import { type CondaChannel, condaChannel } from "./conda/channel";
import type { ChannelPriority, CondaSemantics } from "./conda/provider";
import { defaultCondaSemantics } from "./conda/semantics";
import { solveConda } from "./conda/solve";
import type { VirtualPackageOptions } from "./conda/virtual";
import { preview, ResolverError, ResolverErrorCode } from "./errors";
import { httpPypiIndex, multiIndex, type PypiIndex } from "./pypi/index";
import type { PipSemantics } from "./pypi/provider";
import { indexCandidateSource, resolvePip } from "./pypi/resolve";
import { defaultPipSemantics } from "./pypi/semantics";

export interface LockOptions {
  /** Target platforms (conda subdirs); default: the definition's `platforms`. */
  platforms?: string[];
  /** Open a channel named in the definition (URL or folder). Default: HTTP with `cacheDir`. */
  channel?: (location: string) => CondaChannel;
  /** PyPI-compatible index(es) for the pip block. Default: the block's --index-url/--extra-index-url. */
  pypi?: PypiIndex;
  /** On-disk repodata cache (ETag / Last-Modified). */
  cacheDir?: string;
  channelPriority?: ChannelPriority;
  virtualPackages?: VirtualPackageOptions;
  /** Try `current_repodata.json` first (like conda), falling back to the full repodata. */
  currentRepodata?: boolean;
  /** pip pre-release policy (default: stable first, pre-releases only when nothing else fits). */
  prereleases?: "if-necessary" | "allow";
  condaSemantics?: CondaSemantics;
  pipSemantics?: PipSemantics;
  /**
   * conda's channel settings (`.condarc`), as conda applies them: a definition that lists no
   * channels uses `channels`, and the name `defaults` stands for `defaultChannels`. Without it
   * such a definition fails with E_NO_CHANNELS; so does one where both lists are empty.
   */
  condaConfig?: { channels: string[]; defaultChannels: string[] };
}

/** The channels a lock uses: the definition's, else the configured ones, `defaults` expanded. */
export function lockChannels(listed: readonly string[], config?: LockOptions["condaConfig"]): string[] {
  const names = listed.length ? listed : (config?.channels ?? []);
  const out: string[] = [];
  for (const c of names) {
    const expanded = c === "defaults" && config ? config.defaultChannels : [c];
    for (const e of expanded) if (!out.includes(e)) out.push(e);
  }
  return out;
}

/** Named channels resolve against anaconda.org like conda does. */
export function channelLocation(channel: string): string {
  if (/^(https?|file):\/\//.test(channel) || channel.startsWith("/") || channel.startsWith("."))
    return channel;
  if (/^[A-Za-z0-9][A-Za-z0-9_.-]*(\/label\/[A-Za-z0-9_.-]+)?$/.test(channel))
    return `https://conda.anaconda.org/${channel}`;
  throw new ResolverError(
    ResolverErrorCode.SPEC_INVALID,
    `channel must be a name (conda-forge), a URL (https://host/channel) or a folder; received ${preview(channel)}`,
  );
}

/** Split a pip block into requirement lines and index options. */
function splitPipBlock(lines: string[]): {
  requirements: string[];
  indexUrl?: string;
  extra: string[];
  pre: boolean;
} {
  const requirements: string[] = [];
  const extra: string[] = [];
  let indexUrl: string | undefined;
  let pre = false;
  for (const raw of lines) {
    const line = raw.trim();
    if (line === "--pre") {
      pre = true;
      continue;
    }
    const m = /^(--index-url|-i|--extra-index-url)(?:\s+|=)(\S+)$/.exec(line);
    if (m) {
      if (m[1] === "--extra-index-url") extra.push(m[2] as string);
      else indexUrl = m[2] as string;
      continue;
    }
    if (line.startsWith("-")) continue; // other pip options do not change the resolution here
    if (line) requirements.push(line);
  }
  return indexUrl === undefined ? { requirements, extra, pre } : { requirements, indexUrl, extra, pre };
}

/**
 * Start fetching the project pages of the pip block's requirements while conda solves (the
 * index keeps them for the resolution that follows). A line that does not parse is left to
 * the resolution to report.
 */
function prefetchPages(index: PypiIndex, requirements: string[], semantics: PipSemantics): void {
  for (const text of requirements) {
    try {
      index.files(semantics.parseRequirement(text).name).catch(() => undefined);
    } catch {
      // reported by resolvePip
    }
  }
}

/**
 * Lock a definition: solve its conda specs per platform, then its pip block against the Python
 * conda chose (packages conda already provides are not reinstalled), and record exact artifacts.
 */
export async function lockEnvironment(def: EnvironmentDefinition, options: LockOptions = {}): Promise<Lock> {
  const conda = def.python.condaDependencies;
  const platforms = options.platforms ?? def.platforms;
  const channelNames = lockChannels(conda.channels ?? [], options.condaConfig);
  const specs = condaPackages(conda);
  if (channelNames.length === 0 && specs.length > 0) {
    throw new ResolverError(
      ResolverErrorCode.NO_CHANNELS,
      conda.channels?.length || !options.condaConfig
        ? `no conda channel to look for ${preview(specs[0])} in: the definition lists no channels; expected channels such as [conda-forge]`
        : `no conda channel to look for ${preview(specs[0])} in: the definition lists no channels and the conda configuration's channels and default_channels are empty; expected channels such as [conda-forge]`,
    );
  }
  const open =
    options.channel ??
    ((loc: string) => condaChannel(loc, options.cacheDir ? { cacheDir: options.cacheDir } : {}));
  const channels = channelNames.map((c) => open(channelLocation(c)));
  const pip = splitPipBlock(pipEntries(conda));
  const condaSem = options.condaSemantics ?? defaultCondaSemantics;
  const pipSem = options.pipSemantics ?? defaultPipSemantics;
  let index = options.pypi;
  if (!index && pip.requirements.length) {
    const urls = [pip.indexUrl ?? "https://pypi.org/simple", ...pip.extra];
    index =
      urls.length === 1
        ? httpPypiIndex(urls[0] as string)
        : multiIndex(
            urls.map((u) => httpPypiIndex(u)),
            "first-index",
          );
  }
  if (index && pip.requirements.length) prefetchPages(index, pip.requirements, pipSem);
  const out: Lock = {
    lockVersion: LOCK_VERSION,
    definitionHash: definitionHash(def),
    channels: channels.map((c) => c.url),
    indexes: index && pip.requirements.length ? [index.url] : [],
    platforms: {},
  };
  for (const platform of platforms) {
    const sol = await solveConda({
      channels,
      specs,
      subdir: platform,
      semantics: condaSem,
      ...(options.channelPriority ? { channelPriority: options.channelPriority } : {}),
      ...(options.virtualPackages ? { virtualPackages: options.virtualPackages } : {}),
      ...(options.currentRepodata ? { currentRepodata: true } : {}),
    });
    const condaLocked: LockedCondaPackage[] = sol.records.map((r) => {
      const e: LockedCondaPackage = {
        name: r.name,
        version: r.version,
        build: r.build,
        buildNumber: r.buildNumber,
        channel: r.channel,
        subdir: r.subdir,
        url: r.url,
        depends: r.depends,
      };
      if (r.sha256) e.sha256 = r.sha256;
      if (r.md5) e.md5 = r.md5;
      return e;
    });
    const pipLocked: LockedPipPackage[] = [];
    if (pip.requirements.length && index) {
      const python = sol.records.find((r) => r.name === "python");
      if (!python) {
        throw new ResolverError(
          ResolverErrorCode.UNSATISFIABLE,
          `the pip block needs a Python, but the conda solution for ${platform} has none: add e.g. "python=3.12" to the conda dependencies`,
        );
      }
      const pyVersion = /^(\d+\.\d+(?:\.\d+)?)/.exec(python.version)?.[1] ?? python.version;
      const provided: Record<string, string> = {};
      for (const r of sol.records) provided[canonicalizeName(r.name)] = r.version;
      const res = await resolvePip({
        requirements: pip.requirements,
        source: indexCandidateSource(index, { python: pyVersion, platform }),
        target: { python: pyVersion, platform },
        semantics: pipSem,
        provided,
        ...(options.prereleases || pip.pre ? { prereleases: options.prereleases ?? "allow" } : {}),
      });
      for (const p of res.packages) {
        const a = p.artifact;
        if (!a?.sha256) {
          throw new ResolverError(
            ResolverErrorCode.INDEX_INVALID,
            `${p.name} ${p.version}: the index gave no sha256 for ${a?.filename ?? "its file"}; expected #sha256=<hex> so the lock can pin it`,
          );
        }
        pipLocked.push({
          name: p.name,
          version: p.version,
          url: a.url,
          sha256: a.sha256,
          requires: p.requires,
          index: a.index,
        });
      }
    }
    out.platforms[platform] = { conda: condaLocked, pip: pipLocked };
  }
  return validateLock(out);
}

export interface LockCheck {
  ok: boolean;
  /** Why the lock no longer matches (empty when ok). */
  reasons: string[];
}

/** Offline check that a lock still belongs to a definition (same definition hash, every platform). */
export function checkLock(
  def: EnvironmentDefinition,
  lock: Lock,
  platforms: string[] = def.platforms,
): LockCheck {
  const reasons: string[] = [];
  const h = definitionHash(def);
  if (lock.definitionHash !== h)
    reasons.push(`the definition changed since it was locked (lock ${lock.definitionHash}, now ${h})`);
  for (const p of platforms) if (!lock.platforms[p]) reasons.push(`platform ${p} is not locked`);
  return { ok: reasons.length === 0, reasons };
}

export interface OutdatedEntry {
  platform: string;
  kind: "conda" | "pip";
  name: string;
  locked: string | null;
  latest: string | null;
}

/**
 * What a fresh lock would change: packages whose resolved version differs from the lock
 * (newer releases of unpinned packages, added or removed packages).
 */
export async function outdated(
  def: EnvironmentDefinition,
  lock: Lock,
  options: LockOptions = {},
): Promise<OutdatedEntry[]> {
  const fresh = await lockEnvironment(def, { platforms: Object.keys(lock.platforms), ...options });
  const out: OutdatedEntry[] = [];
  for (const [platform, now] of Object.entries(fresh.platforms)) {
    const before = lock.platforms[platform] ?? { conda: [], pip: [] };
    for (const kind of ["conda", "pip"] as const) {
      const a = new Map<string, string>(before[kind].map((p) => [p.name, p.version]));
      const b = new Map<string, string>(now[kind].map((p) => [p.name, p.version]));
      for (const name of [...new Set([...a.keys(), ...b.keys()])].sort()) {
        const locked = a.get(name) ?? null;
        const latest = b.get(name) ?? null;
        if (locked !== latest) out.push({ platform, kind, name, locked, latest });
      }
    }
  }
  return out;
}
