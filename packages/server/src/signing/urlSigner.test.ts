import { describe, expect, it } from "vitest";
import { generateSigningKey, SigningError, UrlSigner } from "./urlSigner";

const blob = { workspace: "team-a", sha256: "a".repeat(64), filename: "pkg-1.0-py3-none-any.whl" };

function codeOf(fn: () => void): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(SigningError);
    return (e as SigningError).code;
  }
  return "none";
}

function parse(query: string): { expires: string | null; sig: string | null } {
  const q = new URLSearchParams(query);
  return { expires: q.get("expires"), sig: q.get("sig") };
}

describe("UrlSigner", () => {
  const signer = new UrlSigner(generateSigningKey());
  const now = Date.UTC(2026, 0, 1);

  it("accepts its own signature before expiry", () => {
    const { query, expires } = signer.signFor(blob, { ttlSeconds: 60, now });
    expect(expires).toBe(now / 1000 + 60);
    expect(codeOf(() => signer.verify(blob, parse(query), now + 59_000))).toBe("none");
  });

  it("refuses an expired URL", () => {
    const { query } = signer.signFor(blob, { ttlSeconds: 60, now });
    expect(codeOf(() => signer.verify(blob, parse(query), now + 61_000))).toBe("E_SIGNATURE_EXPIRED");
  });

  it("refuses a tampered expiry, signature, blob or file name", () => {
    const p = parse(signer.signFor(blob, { ttlSeconds: 60, now }).query);
    expect(codeOf(() => signer.verify(blob, { ...p, expires: String(Number(p.expires) + 3600) }, now))).toBe(
      "E_SIGNATURE_INVALID",
    );
    const flipped = `${p.sig![0] === "A" ? "B" : "A"}${p.sig!.slice(1)}`;
    expect(codeOf(() => signer.verify(blob, { ...p, sig: flipped }, now))).toBe("E_SIGNATURE_INVALID");
    expect(codeOf(() => signer.verify({ ...blob, sha256: "b".repeat(64) }, p, now))).toBe(
      "E_SIGNATURE_INVALID",
    );
    expect(codeOf(() => signer.verify({ ...blob, filename: "other-1.0-py3-none-any.whl" }, p, now))).toBe(
      "E_SIGNATURE_INVALID",
    );
  });

  it("refuses a URL signed for another workspace", () => {
    const p = parse(signer.signFor(blob, { ttlSeconds: 60, now }).query);
    expect(codeOf(() => signer.verify({ ...blob, workspace: "team-b" }, p, now))).toBe("E_SIGNATURE_INVALID");
  });

  it("refuses a signature made with another key", () => {
    const other = new UrlSigner(generateSigningKey());
    const p = parse(other.signFor(blob, { ttlSeconds: 60, now }).query);
    expect(codeOf(() => signer.verify(blob, p, now))).toBe("E_SIGNATURE_INVALID");
  });

  it("refuses missing or malformed parameters", () => {
    expect(codeOf(() => signer.verify(blob, { expires: null, sig: null }, now))).toBe(
      "E_SIGNATURE_MALFORMED",
    );
    expect(codeOf(() => signer.verify(blob, { expires: "1e9", sig: "x".repeat(43) }, now))).toBe(
      "E_SIGNATURE_MALFORMED",
    );
    expect(codeOf(() => signer.verify(blob, { expires: "100", sig: "short" }, now))).toBe(
      "E_SIGNATURE_MALFORMED",
    );
  });

  it("refuses a leading zero in expires (one URL per signature)", () => {
    const p = parse(signer.signFor(blob, { ttlSeconds: 60, now }).query);
    expect(() => signer.verify(blob, p, now)).not.toThrow();
    expect(codeOf(() => signer.verify(blob, { ...p, expires: `0${p.expires}` }, now))).toBe(
      "E_SIGNATURE_MALFORMED",
    );
  });

  it("refuses a short key", () => {
    expect(codeOf(() => new UrlSigner("too-short"))).toBe("E_SIGNING_KEY_INVALID");
  });
});
