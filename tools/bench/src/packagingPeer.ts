/**
 * Python's `packaging` (the PEP 440 reference implementation) as a bench peer: the machine's
 * python3 with `packaging` installed, or else the copy pip vendors (`pip._vendor.packaging`).
 * A script reads JSON on stdin and prints JSON; timings are taken inside Python, so interpreter
 * start-up is not counted.
 */
import { execFileSync } from "node:child_process";

export interface PackagingPeer {
  /** e.g. `packaging 26.2` or `pip._vendor.packaging 21.3`. */
  label: string;
  /** Run `body` (Python, with `Version`, `SpecifierSet`, `json`, `sys`, `time` and `data` in scope). */
  run<T>(body: string, data: unknown): T;
}

const PRELUDE = `
import json, sys, time, statistics
try:
    import packaging as _p
    from packaging.version import Version
    from packaging.specifiers import SpecifierSet
    _label = "packaging " + _p.__version__
except ImportError:
    import pip._vendor.packaging as _p
    from pip._vendor.packaging.version import Version
    from pip._vendor.packaging.specifiers import SpecifierSet
    _label = "pip._vendor.packaging " + _p.__version__
data = json.load(sys.stdin)
`;

/** The peer, or null (with the reason) when python3 or packaging is missing. */
export function packagingPeer(): PackagingPeer | { missing: string } {
  const python = process.env.MLENV_BENCH_PYTHON ?? "python3";
  let label: string;
  try {
    label = execFileSync(python, ["-c", `${PRELUDE}\nprint(_label)`], { input: "null" })
      .toString()
      .trim();
  } catch (e) {
    return { missing: `${python} with packaging (or pip) is not available: ${String(e).slice(0, 120)}` };
  }
  return {
    label,
    run<T>(body: string, data: unknown): T {
      const out = execFileSync(python, ["-c", `${PRELUDE}\n${body}`], {
        input: JSON.stringify(data),
        maxBuffer: 1 << 28,
      });
      return JSON.parse(out.toString()) as T;
    },
  };
}
