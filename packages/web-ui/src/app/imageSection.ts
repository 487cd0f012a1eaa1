import { BuildsClient, isMlenvError, type Workspace } from "@mlenv/sdk";
import { type ComponentChild, h } from "preact";
import { useState } from "preact/hooks";
import { href } from "./route";
import { errorText } from "./session";
import { useAsync } from "./util";

/** The image of one version: whether it exists, and a button to build it (writers). */
export function ImageSection(props: {
  ws: Workspace;
  name: string;
  version: number;
  canWrite: boolean;
  onError: (e: unknown) => void;
}): ComponentChild {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const state = useAsync(
    () => new BuildsClient(props.ws).image(props.name, { version: props.version }),
    [props.ws, props.name, props.version],
  );
  const build = async () => {
    setBusy(true);
    setError(null);
    try {
      const res = await new BuildsClient(props.ws).submit(props.name, { version: props.version });
      location.hash = href.build(res.job.id);
    } catch (e) {
      props.onError(e);
      setError(errorText(e));
      setBusy(false);
    }
  };
  const img = state.data;
  const notEnabled =
    isMlenvError(state.error) && state.error.code === "E_NOT_FOUND" && /No route/.test(state.error.message);
  return h(
    "section",
    { "aria-labelledby": "image-title" },
    h("h2", { id: "image-title" }, "Image"),
    notEnabled
      ? h("p", { class: "meta" }, "Image builds are not enabled on this server.")
      : state.error
        ? h("div", { class: "alert", role: "alert" }, errorText(state.error))
        : !img
          ? h("p", { class: "meta" }, "Looking up the image…")
          : h(
              "dl",
              { class: "facts", id: "image-details" },
              h("dt", null, "Reference"),
              h("dd", { class: "hash" }, img.image),
              h("dt", null, "State"),
              h(
                "dd",
                { id: "image-state" },
                img.exists
                  ? img.local
                    ? "built (in the local engine)"
                    : "in the registry"
                  : "not built yet",
              ),
              img.imageId ? [h("dt", null, "Image id"), h("dd", { class: "hash" }, img.imageId)] : null,
              img.digest ? [h("dt", null, "Digest"), h("dd", { class: "hash" }, img.digest)] : null,
            ),
    props.canWrite && !notEnabled
      ? h(
          "p",
          null,
          h(
            "button",
            { type: "button", onClick: build, disabled: busy },
            busy ? "Starting…" : img?.exists ? "Rebuild image" : "Build image",
          ),
        )
      : null,
    error ? h("div", { class: "alert", role: "alert" }, error) : null,
  );
}
