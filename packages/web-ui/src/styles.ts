/** The web UI's stylesheet, served at /ui/app.css. Usable from 375 px (phones) upwards. */
export const uiStyles = `
:root { --fg:#1b1f24; --muted:#57606a; --bg:#fff; --panel:#f6f8fa; --line:#d0d7de; --accent:#0b5cad;
  --bad:#b42318; --badbg:#ffebe9; --good:#116329; --goodbg:#dafbe1; --warn:#7d4e00; --warnbg:#fff8c5;
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); }
* { box-sizing: border-box; }
body { margin: 0; line-height: 1.45; }
a { color: var(--accent); }
:focus-visible { outline: 3px solid #f59e0b; outline-offset: 2px; }
.skip { position: absolute; left: -999px; top: 0; background: var(--bg); padding: .5rem; }
.skip:focus { left: .5rem; z-index: 10; }
header.top { display: flex; flex-wrap: wrap; align-items: center; gap: .5rem 1.25rem; padding: .6rem 1rem;
  border-bottom: 1px solid var(--line); background: var(--panel); }
header.top .brand { font-weight: 700; font-size: 1.15rem; text-decoration: none; color: var(--fg); }
header.top nav ul { display: flex; flex-wrap: wrap; gap: .25rem 1rem; list-style: none; margin: 0; padding: 0; }
header.top .who { margin-left: auto; display: flex; align-items: center; gap: .5rem; color: var(--muted); font-size: .9rem; }
main { padding: 1rem; max-width: 1200px; margin: 0 auto; }
h1 { font-size: 1.5rem; margin: .25rem 0 1rem; word-break: break-word; }
h2 { font-size: 1.15rem; margin: 1.25rem 0 .5rem; }
button, .button { font: inherit; padding: .4rem .9rem; border-radius: 6px; border: 1px solid var(--line);
  background: var(--bg); color: var(--fg); cursor: pointer; text-decoration: none; display: inline-block; }
button.primary, .button.primary { background: var(--accent); color: #fff; border-color: var(--accent); }
button:disabled { opacity: .55; cursor: not-allowed; }
input, select, textarea { font: inherit; padding: .4rem .5rem; border: 1px solid var(--line); border-radius: 6px;
  max-width: 100%; background: var(--bg); color: var(--fg); }
label { font-weight: 600; display: block; margin: .6rem 0 .25rem; }
.field { margin-bottom: .5rem; }
.hint { color: var(--muted); font-size: .85rem; font-weight: 400; }
.login { max-width: 28rem; margin: 3rem auto; padding: 1.5rem; border: 1px solid var(--line); border-radius: 10px; }
.login input { width: 100%; }
.alert { border: 1px solid var(--bad); background: var(--badbg); color: var(--bad); padding: .5rem .75rem;
  border-radius: 6px; margin: .5rem 0; word-break: break-word; }
.ok { border: 1px solid var(--good); background: var(--goodbg); color: var(--good); padding: .5rem .75rem;
  border-radius: 6px; margin: .5rem 0; word-break: break-word; }
.toolbar { display: flex; flex-wrap: wrap; gap: .5rem 1rem; align-items: end; margin-bottom: 1rem; }
.toolbar .field { margin: 0; max-width: 100%; min-width: 0; }
input[type=file] { max-width: 100%; }
ul.envs { list-style: none; padding: 0; margin: 0; display: grid; gap: .75rem;
  grid-template-columns: repeat(auto-fill, minmax(min(100%, 22rem), 1fr)); }
ul.envs > li { border: 1px solid var(--line); border-radius: 8px; padding: .75rem 1rem; }
ul.envs .title { display: flex; flex-wrap: wrap; align-items: baseline; gap: .4rem; }
ul.envs .title a { font-weight: 600; font-size: 1.05rem; word-break: break-all; }
.badge { display: inline-block; font-size: .75rem; font-weight: 600; padding: .05rem .5rem; border-radius: 999px;
  border: 1px solid var(--line); background: var(--panel); color: var(--muted); }
.badge.status-succeeded { background: var(--goodbg); border-color: var(--good); color: var(--good); }
.badge.status-failed { background: var(--badbg); border-color: var(--bad); color: var(--bad); }
.badge.status-running, .badge.status-queued { background: #ddf4ff; border-color: #54aeff; color: #0550ae; }
.badge.status-cancelled { background: var(--warnbg); border-color: #d4a72c; color: var(--warn); }
pre.log { max-height: 60vh; white-space: pre-wrap; word-break: break-all; }
.badge.curated { background: #ddf4ff; border-color: #54aeff; color: #0550ae; }
.badge.archived { background: var(--warnbg); border-color: #d4a72c; color: var(--warn); }
.tags { display: flex; flex-wrap: wrap; gap: .3rem; list-style: none; padding: 0; margin: .4rem 0 0; }
.tag { font-size: .8rem; background: var(--panel); border: 1px solid var(--line); border-radius: 4px; padding: 0 .4rem; }
.meta { color: var(--muted); font-size: .85rem; }
.hash { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: .85rem; word-break: break-all; }
.layout { display: grid; grid-template-columns: 16rem minmax(0, 1fr); gap: 1.5rem; }
@media (max-width: 760px) { .layout { grid-template-columns: minmax(0, 1fr); } }
ol.timeline { list-style: none; margin: 0; padding: 0 0 0 .75rem; border-left: 2px solid var(--line); }
ol.timeline li { margin: 0 0 .75rem; position: relative; }
ol.timeline li::before { content: ""; position: absolute; left: -1.18rem; top: .45rem; width: .7rem; height: .7rem;
  border-radius: 50%; background: var(--line); }
ol.timeline li.current::before { background: var(--accent); }
ol.timeline a[aria-current] { font-weight: 700; }
pre.code { background: var(--panel); border: 1px solid var(--line); border-radius: 6px; padding: .75rem;
  overflow: auto; font-size: .82rem; max-height: 70vh; margin: 0; }
[role=tablist] { display: flex; flex-wrap: wrap; gap: .25rem; border-bottom: 1px solid var(--line); margin-bottom: .5rem; }
[role=tab] { border: 1px solid transparent; border-bottom: none; border-radius: 6px 6px 0 0; background: none; }
[role=tab][aria-selected=true] { border-color: var(--line); background: var(--panel); font-weight: 600; }
dl.facts { display: grid; grid-template-columns: max-content minmax(0, 1fr); gap: .2rem 1rem; margin: 0 0 1rem; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; word-break: break-word; }
.diffwrap { overflow-x: auto; border: 1px solid var(--line); border-radius: 6px; }
table.diff { border-collapse: collapse; width: 100%; font-family: ui-monospace, SFMono-Regular, Menlo, monospace;
  font-size: .8rem; table-layout: fixed; }
table.diff td { padding: 0 .4rem; vertical-align: top; white-space: pre-wrap; word-break: break-all; }
table.diff col.n { width: 3.2rem; }
table.diff td.n { color: var(--muted); text-align: right; user-select: none; }
table.diff th { background: var(--panel); text-align: left; padding: .3rem .4rem; font-family: system-ui, sans-serif; }
table.diff td.del { background: var(--badbg); }
table.diff td.add { background: var(--goodbg); }
table.diff td.empty { background: #f3f4f6; }
table.changes { border-collapse: collapse; width: 100%; font-size: .85rem; }
table.changes caption { text-align: left; font-weight: 600; padding: .3rem .4rem; }
table.changes th, table.changes td { border-top: 1px solid var(--line); padding: .25rem .5rem; text-align: left; vertical-align: top; }
table.changes tr[data-change=added] td:last-child { background: var(--goodbg); }
table.changes tr[data-change=removed] td:nth-child(4) { background: var(--badbg); }
table.changes tr[data-change=changed] td:nth-child(4) { background: var(--badbg); }
table.changes tr[data-change=changed] td:last-child { background: var(--goodbg); }
ul.changes { margin: 0; padding-left: 1.2rem; font-size: .85rem; word-break: break-word; }
.metrics { display: grid; gap: 1rem; grid-template-columns: repeat(auto-fill, minmax(min(100%, 20rem), 1fr)); }
figure.metric { margin: 0; border: 1px solid var(--line); border-radius: 8px; padding: .5rem .75rem; }
figure.metric svg { width: 100%; height: auto; display: block; }
figure.metric .axis { stroke: var(--line); }
figure.metric .series { fill: none; stroke: var(--accent); stroke-width: 2; }
figure.metric .point { fill: var(--accent); }
figure.metric .tick { font-size: 10px; fill: var(--muted); }
.badge.status-completed { background: var(--goodbg); border-color: var(--good); color: var(--good); }
.badge.status-preparing { background: #ddf4ff; border-color: #54aeff; color: #0550ae; }
.badge.status-canceled { background: var(--warnbg); border-color: #d4a72c; color: var(--warn); }
.badge.status-healthy { background: var(--goodbg); border-color: var(--good); color: var(--good); }
.badge.status-deploying { background: #ddf4ff; border-color: #54aeff; color: #0550ae; }
.badge.status-unhealthy { background: var(--warnbg); border-color: #d4a72c; color: var(--warn); }
.summary { display: flex; flex-wrap: wrap; gap: .5rem 1.5rem; margin: .5rem 0 1rem; }
.editor textarea { width: 100%; min-height: 18rem; font-family: ui-monospace, SFMono-Regular, Menlo, monospace;
  font-size: .85rem; }
.new { display: grid; grid-template-columns: minmax(0, 3fr) minmax(0, 2fr); gap: 1.5rem; }
@media (max-width: 900px) { .new { grid-template-columns: minmax(0, 1fr); } }
ul.issues { list-style: none; padding: 0; margin: 0; display: grid; gap: .4rem; }
ul.issues button { width: 100%; text-align: left; border-radius: 6px; font-size: .85rem; }
ul.issues .error button { border-color: var(--bad); background: var(--badbg); }
ul.issues .warning button { border-color: #d4a72c; background: var(--warnbg); }
.status { min-height: 1.5rem; }
@media (max-width: 480px) {
  main { padding: .75rem; }
  header.top .who { margin-left: 0; width: 100%; }
  table.diff { font-size: .7rem; }
  table.diff col.n { width: 2.2rem; }
}
`;
