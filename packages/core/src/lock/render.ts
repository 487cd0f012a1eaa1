import { CoreError, CoreErrorCode, preview } from "../errors";
import type { Lock, LockedPlatform } from "./lock";
import { validateLock } from "./lock";

function platformOf(lock: Lock, platform: string): LockedPlatform {
  const e = lock.platforms[platform];
  if (!e) {
    throw new CoreError(
      CoreErrorCode.LOCK_INVALID,
      `lock has no entry for platform ${preview(platform)}; expected one of ${Object.keys(lock.platforms).join(", ") || "(none)"}, e.g. linux-64`,
    );
  }
  return e;
}

/**
 * A conda explicit spec (`conda create --file`): `@EXPLICIT` then one URL per line with its
 * md5 (`#<md5>`) or, when there is no md5, `#sha256:<hex>`. The lock is re-validated first, so
 * only safe URLs reach the file.
 */
export function renderCondaExplicit(lock: Lock, platform: string): string {
  const e = platformOf(validateLock(lock), platform);
  const lines = [`# platform: ${platform}`, "@EXPLICIT"];
  for (const c of e.conda) {
    const digest = c.md5 ?? (c.sha256 ? `sha256:${c.sha256}` : undefined);
    lines.push(digest ? `${c.url}#${digest}` : c.url);
  }
  return `${lines.join("\n")}\n`;
}

/** pip requirements pinned to the locked artifacts, for `pip install --require-hashes -r`. */
export function renderPipRequirements(lock: Lock, platform: string): string {
  const e = platformOf(validateLock(lock), platform);
  const lines = e.pip.map((p) => `${p.name} @ ${p.url} --hash=sha256:${p.sha256}`);
  return lines.length ? `${lines.join("\n")}\n` : "";
}
