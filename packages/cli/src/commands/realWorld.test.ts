import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { skipWithout } from "@mlenv/test-utils";
import { describe, expect, it } from "vitest";
import { runInProcess } from "../internal/runInProcess";

const folder = "/work/shared/conformance/real-world";
const files = existsSync(folder) ? readdirSync(folder).filter((f) => /\.(ya?ml|txt)$/.test(f)) : [];

describe.skipIf(skipWithout("conformance", files.length ? null : `${folder} is missing`))(
  "mlenv env validate on real-world files",
  () => {
    it.each(files)(
      "%s validates (conda files directly, requirements via a definition made from them)",
      async (f) => {
        const r = await runInProcess(["env", "validate", "-d", join(folder, f)]);
        expect(r.stderr.split("\n").filter((l) => /: error /.test(l))).toEqual([]);
        expect(r.code).toBe(0);
        expect(r.stdout).toMatch(/: valid \(/);
        const hash = await runInProcess(["env", "hash", "-d", join(folder, f), "--json"]);
        expect(JSON.parse(hash.stdout).definitionHash).toMatch(/^mlenv1-sha256:[0-9a-f]{64}$/);
      },
    );
  },
);
