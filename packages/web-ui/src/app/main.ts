import type { WhoAmI, Workspace } from "@mlenv/sdk";
import { type ComponentChild, h, render } from "preact";
import { useCallback, useEffect, useMemo, useState } from "preact/hooks";
import { BuildPage } from "./buildPage";
import { DiffPage } from "./diffPage";
import { EnvList } from "./envList";
import { EnvPage } from "./envPage";
import { Login } from "./login";
import { NewEnv } from "./newEnv";
import { href, parseRoute, type Route } from "./route";
import { RunList, RunPage } from "./runs";
import { ServiceList, ServicePage } from "./services";
import { isUnauthenticated, storedToken, storeToken, workspaceFor } from "./session";
import { PageFrame } from "./util";

function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  useEffect(() => {
    const on = () => setRoute(parseRoute(location.hash));
    addEventListener("hashchange", on);
    return () => removeEventListener("hashchange", on);
  }, []);
  return route;
}

function Header(props: { who: WhoAmI | null; route: Route; onLogout: () => void }): ComponentChild {
  const cur = (page: Route["page"]) => (props.route.page === page ? "page" : undefined);
  return h(
    "header",
    { class: "top" },
    h("a", { class: "brand", href: href.list() }, "mlenv"),
    h(
      "nav",
      { "aria-label": "Main" },
      h(
        "ul",
        null,
        h("li", null, h("a", { href: href.list(), "aria-current": cur("list") }, "Environments")),
        h("li", null, h("a", { href: href.create(), "aria-current": cur("new") }, "New environment")),
        h("li", null, h("a", { href: href.runs(), "aria-current": cur("runs") }, "Runs")),
        h("li", null, h("a", { href: href.services(), "aria-current": cur("services") }, "Services")),
      ),
    ),
    h(
      "div",
      { class: "who" },
      props.who
        ? h("span", { id: "whoami" }, `${props.who.workspace} · ${props.who.tokenName} (${props.who.role})`)
        : null,
      h("button", { type: "button", onClick: props.onLogout }, "Sign out"),
    ),
  );
}

function Page(props: {
  route: Route;
  ws: Workspace;
  who: WhoAmI | null;
  onError: (e: unknown) => void;
}): ComponentChild {
  const { route, ws, onError } = props;
  // pages that change things show their controls to writers (not while whoami is unknown)
  const canWrite = props.who ? props.who.role !== "reader" : false;
  switch (route.page) {
    case "list":
      return h(EnvList, { ws, onError });
    case "new":
      return h(NewEnv, { ws, onError, canWrite: props.who ? props.who.role !== "reader" : true });
    case "env":
      return h(EnvPage, {
        ws,
        onError,
        name: route.name,
        version: route.version,
        canWrite,
        key: route.name,
      });
    case "diff":
      return h(DiffPage, { ws, onError, name: route.name, from: route.from, to: route.to });
    case "build":
      return h(BuildPage, {
        ws,
        onError,
        id: route.id,
        canWrite,
        key: route.id,
      });
    case "runs":
      return h(RunList, { ws, onError });
    case "run":
      return h(RunPage, { ws, onError, id: route.id, key: route.id });
    case "services":
      return h(ServiceList, { ws, onError });
    case "service":
      return h(ServicePage, {
        ws,
        onError,
        name: route.name,
        canWrite,
        key: route.name,
      });
    case "missing":
      return h(
        PageFrame,
        { title: "Page not found" },
        h("p", null, h("a", { href: href.list() }, "Back to the environments")),
      );
  }
}

function App(): ComponentChild {
  const [token, setToken] = useState(storedToken);
  const [who, setWho] = useState<WhoAmI | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const route = useRoute();
  const ws = useMemo(() => (token ? workspaceFor(token) : null), [token]);

  const logout = useCallback((why: string | null) => {
    storeToken(null);
    setToken(null);
    setWho(null);
    setNotice(why);
  }, []);
  const onError = useCallback(
    (e: unknown) => {
      if (isUnauthenticated(e)) logout("Your token is no longer accepted; sign in again.");
    },
    [logout],
  );

  useEffect(() => {
    if (!ws || who) return;
    ws.environments.whoami().then(setWho, onError);
  }, [ws, who, onError]);

  if (!ws) {
    return h(Login, {
      notice,
      onLogin: (t, w) => {
        storeToken(t);
        setNotice(null);
        setWho(w);
        setToken(t);
      },
    });
  }
  return h(
    "div",
    null,
    h(
      "a",
      {
        class: "skip",
        href: "#main",
        onClick: (e: Event) => {
          e.preventDefault();
          document.getElementById("page-title")?.focus();
        },
      },
      "Skip to content",
    ),
    h(Header, { who, route, onLogout: () => logout(null) }),
    h(Page, { route, ws, who, onError, key: route.page }),
  );
}

const root = document.getElementById("app");
if (root) {
  root.textContent = "";
  render(h(App, null), root);
}
