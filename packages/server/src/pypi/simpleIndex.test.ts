import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isWheelError } from "../wheels/errors";
import { parseWheelFilename } from "../wheels/wheelFilename";
import { escapeHtml, negotiateSimpleFormat, renderProjectHtml } from "./simpleIndex";

describe("PEP 691 content negotiation", () => {
  it.each([
    [undefined, "text/html"],
    ["", "text/html"],
    ["*/*", "text/html"],
    ["application/vnd.pypi.simple.v1+json", "application/vnd.pypi.simple.v1+json"],
    ["application/vnd.pypi.simple.latest+json", "application/vnd.pypi.simple.v1+json"],
    // pip's own header
    [
      "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01",
      "application/vnd.pypi.simple.v1+json",
    ],
    ["text/html, application/vnd.pypi.simple.v1+json;q=0.5", "text/html"],
    ["application/vnd.pypi.simple.v1+html", "application/vnd.pypi.simple.v1+html"],
    ["application/vnd.pypi.simple.v1+json;q=0, text/html", "text/html"],
    ["image/png", null],
    ["application/vnd.pypi.simple.v2+json", null],
  ])("%j → %j", (accept, expected) => {
    expect(negotiateSimpleFormat(accept)).toBe(expected);
  });

  it("never throws on any header", () => {
    fc.assert(
      fc.property(fc.string(), (h) => {
        const f = negotiateSimpleFormat(h);
        expect(f === null || typeof f === "string").toBe(true);
      }),
    );
  });
});

describe("HTML rendering is injection-safe", () => {
  it("escapes every markup character", () => {
    fc.assert(
      fc.property(fc.string(), (s) => {
        expect(escapeHtml(s)).not.toMatch(/[<>"']/);
      }),
    );
    const html = renderProjectHtml("p", [
      {
        filename: "p-1.0-py3-none-any.whl",
        url: "../../files/x/p-1.0-py3-none-any.whl",
        sha256: "a".repeat(64),
        size: 1,
        requiresPython: '>=3"><script>alert(1)</script>',
        metadataSha256: null,
        yanked: "<img src=x onerror=alert(1)>",
        uploadTime: "t",
        version: "1.0",
      },
    ]);
    expect(html).not.toContain("<script>");
    expect(html).not.toContain("<img");
  });
});

describe("wheel file names (property)", () => {
  it("anything accepted is a plain, shell- and path-safe .whl name; anything else is a WheelError", () => {
    const parts = fc.constantFrom(
      "a",
      "B",
      "0",
      "_",
      ".",
      "-",
      "+",
      "!",
      "/",
      "\\",
      "\u0000",
      "$",
      ";",
      "`",
      " ",
      "..",
      "\n",
      "é",
      "(",
      "'",
    );
    fc.assert(
      fc.property(fc.array(parts, { maxLength: 30 }), fc.boolean(), (chars, suffix) => {
        const name = chars.join("") + (suffix ? "-1.0-py3-none-any.whl" : "");
        try {
          const f = parseWheelFilename(name);
          expect(f.filename).toMatch(/^[A-Za-z0-9_.+!-]+\.whl$/);
          expect(f.filename).not.toContain("..");
        } catch (e) {
          expect(isWheelError(e, "E_WHEEL_FILENAME_INVALID")).toBe(true);
        }
      }),
      { numRuns: 2000 },
    );
  });
});
