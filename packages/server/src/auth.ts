import { createHash, randomBytes } from "node:crypto";
import type { Role } from "./store/types";

const TOKEN = /^mlenv_[A-Za-z0-9_-]{43}$/;

/** A new random API token: `mlenv_` + 32 random bytes in base64url. */
export function generateToken(): string {
  return `mlenv_${randomBytes(32).toString("base64url")}`;
}

/** True when `s` has the shape of an API token (checked before any lookup). */
export function isTokenShaped(s: string): boolean {
  return TOKEN.test(s);
}

/** What is stored for a token: its SHA-256 (hex). Tokens are 256-bit random, so no salt is needed. */
export function hashToken(token: string): string {
  return createHash("sha256").update(token, "utf8").digest("hex");
}

const RANK: Record<Role, number> = { reader: 1, writer: 2, admin: 3 };

/** True when `have` includes the rights of `need`. */
export function roleAllows(have: Role, need: Role): boolean {
  return RANK[have] >= RANK[need];
}
