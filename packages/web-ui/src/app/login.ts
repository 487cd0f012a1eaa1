import type { WhoAmI } from "@mlenv/sdk";
import { type ComponentChild, h } from "preact";
import { useState } from "preact/hooks";
import { errorText, isUnauthenticated, workspaceFor } from "./session";
import { PageTitle } from "./util";

/** Sign in with an API token; the token is checked with `whoami` before it is kept. */
export function Login(props: {
  onLogin: (token: string, who: WhoAmI) => void;
  notice: string | null;
}): ComponentChild {
  const [token, setToken] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    const t = token.trim();
    if (!/^mlenv_[A-Za-z0-9_-]{43}$/.test(t)) {
      setError(
        "Expected a token like mlenv_ followed by 43 letters, digits, - or _ (as printed by the server or `mlenv token create`).",
      );
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const who = await workspaceFor(t).environments.whoami();
      props.onLogin(t, who);
    } catch (err) {
      setError(
        isUnauthenticated(err) ? "The server does not know this token (unknown or revoked)." : errorText(err),
      );
    } finally {
      setBusy(false);
    }
  };
  return h(
    "main",
    { id: "main" },
    h(
      "form",
      { class: "login", onSubmit: submit, "aria-describedby": "login-help" },
      h(PageTitle, null, "Sign in to mlenv"),
      props.notice ? h("div", { class: "alert", role: "alert" }, props.notice) : null,
      h(
        "p",
        { id: "login-help", class: "hint" },
        "Paste an API token of your workspace. It is kept only in this browser tab (session storage).",
      ),
      h("label", { for: "token" }, "API token"),
      h("input", {
        id: "token",
        name: "token",
        type: "password",
        autoComplete: "off",
        spellcheck: false,
        required: true,
        value: token,
        "aria-invalid": error ? "true" : "false",
        "aria-describedby": error ? "login-error" : undefined,
        onInput: (e: Event) => setToken((e.currentTarget as HTMLInputElement).value),
      }),
      error ? h("div", { id: "login-error", class: "alert", role: "alert" }, error) : null,
      h(
        "p",
        null,
        h("button", { type: "submit", class: "primary", disabled: busy }, busy ? "Signing in…" : "Sign in"),
      ),
    ),
  );
}
