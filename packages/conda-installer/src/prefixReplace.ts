import { CondaInstallError, CondaInstallErrorCode } from "./errors";

/** Text mode: every occurrence of the placeholder becomes the prefix (the file may change length). */
export function replaceText(data: Buffer, placeholder: string, prefix: string): Buffer {
  const ph = Buffer.from(placeholder);
  if (data.indexOf(ph) < 0) return data;
  const to = Buffer.from(prefix);
  const parts: Buffer[] = [];
  let pos = 0;
  for (let i = data.indexOf(ph); i >= 0; i = data.indexOf(ph, pos)) {
    parts.push(data.subarray(pos, i), to);
    pos = i + ph.length;
  }
  parts.push(data.subarray(pos));
  return Buffer.concat(parts);
}

/**
 * Binary mode, as conda does: each NUL-terminated string that starts with the placeholder has
 * every placeholder in it replaced by the prefix and is padded with NULs back to its old length,
 * so offsets in the binary do not move. A prefix longer than the placeholder cannot fit.
 */
export function replaceBinary(data: Buffer, placeholder: string, prefix: string, what: string): Buffer {
  const ph = Buffer.from(placeholder);
  const to = Buffer.from(prefix);
  if (data.indexOf(ph) < 0) return data;
  if (to.length > ph.length) {
    throw new CondaInstallError(
      CondaInstallErrorCode.PREFIX_TOO_LONG,
      `${what}: the prefix ${prefix} (${to.length} bytes) is longer than the build placeholder (${ph.length} bytes) in this binary; choose a shorter prefix path`,
    );
  }
  const out = Buffer.from(data);
  let pos = 0;
  for (let i = data.indexOf(ph); i >= 0; i = data.indexOf(ph, pos)) {
    const end = data.indexOf(0, i + ph.length);
    if (end < 0) break; // not a C string: conda leaves it alone too
    const replaced = replaceText(data.subarray(i, end), placeholder, prefix);
    replaced.copy(out, i);
    out.fill(0, i + replaced.length, end);
    pos = end;
  }
  return out;
}
