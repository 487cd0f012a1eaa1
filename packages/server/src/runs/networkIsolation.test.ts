import { skipWithout } from "@mlenv/test-utils";
import { describe, expect, it } from "vitest";
import { venvMissing } from "../../test/helpers";
import { probeLoopback, useRunSupport } from "../../test/runSupport";

// a root server confines local runs with unshare; bubblewrap does it for others
const root = process.getuid?.() === 0;

describe.skipIf(skipWithout("python3-venv", venvMissing()) || (!root && skipWithout("root", "not root")))(
  "local runs have no network unless they ask (root server: unshare --net)",
  () => {
    const fx = useRunSupport({ prefix: "mlenv-net-local-" });

    it("cannot reach a loopback service of the host, yet reports metrics and outputs; with network: true it can", async () => {
      const { closed, open } = await probeLoopback(fx, { target: "local", definition: { name: "net-env" } });
      expect(closed.r.status, closed.text).toBe("completed");
      expect(closed.text).toContain("network: none (its own empty network namespace)");
      expect(closed.text).toContain("BLOCKED");
      expect(closed.text).not.toContain("REACHED");
      // the callback is a unix socket: metrics arrive without network
      expect(await fx.support.runStore.metrics(closed.r.id)).toMatchObject([{ name: "probed", value: 1 }]);
      expect(closed.r.artifacts.map((a) => a.path)).toEqual(["outputs/done.txt"]);
      expect(open.r.status, open.text).toBe("completed");
      expect(open.r.network).toBe(true);
      expect(open.text).toContain("REACHED secret");
      expect(await fx.support.runStore.metrics(open.r.id)).toMatchObject([{ name: "probed", value: 1 }]);
    }, 300_000);
  },
);
