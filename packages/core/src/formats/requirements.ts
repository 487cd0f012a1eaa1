/**
 * A first version of requirements.txt reading: joins `\` continuations, drops comments and blank
 * lines, and keeps every other line (requirements and options such as `--extra-index-url`) as
 * one pip entry. Full pip syntax lives in ./packaging (parseRequirementsFile).
 */
export function requirementLines(text: string): string[] {
  const out: string[] = [];
  const physical = text.replace(/\r\n?/g, "\n").split("\n");
  let pending = "";
  for (const raw of physical) {
    let line = pending + raw;
    pending = "";
    if (/(^|[^\\])\\$/.test(line)) {
      pending = `${line.slice(0, -1)}`;
      continue;
    }
    // A comment starts at `#` at line start or after whitespace (a URL fragment `#egg=` is kept).
    line = line.replace(/(^|\s)#.*$/, "").trim();
    if (line) out.push(line.replace(/\s+/g, " "));
  }
  const last = pending.replace(/(^|\s)#.*$/, "").trim();
  if (last) out.push(last);
  return out;
}
