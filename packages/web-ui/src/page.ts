/** The single HTML page of the web UI; everything else is drawn by /ui/app.js. */
export function uiPage(): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>mlenv</title>
<link rel="stylesheet" href="/ui/app.css">
<script type="module" src="/ui/app.js"></script>
</head>
<body>
<div id="app"><noscript>The mlenv web UI needs JavaScript.</noscript></div>
</body>
</html>
`;
}
