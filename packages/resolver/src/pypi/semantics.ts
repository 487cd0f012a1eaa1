import { Requirement } from "@mlenv/core";
import type { PipSemantics } from "./provider";

/** PEP 508 parsing and marker evaluation from @mlenv/core. */
export const defaultPipSemantics: PipSemantics = {
  parseRequirement(text) {
    const r = Requirement.parse(text);
    const marker = r.marker;
    return {
      name: r.name,
      extras: [...r.extras],
      specifier: r.specifier.toString(),
      url: r.url,
      marker: marker ? { evaluate: (env) => marker.evaluate(env, "metadata") } : null,
    };
  },
};
