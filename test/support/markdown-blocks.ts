/** A fenced code block of a Markdown document. */
export interface CodeBlock {
  language: string;
  code: string;
}

/**
 * The text of the section under `heading` (any level), up to the next heading of that level or
 * higher; `#` lines inside code blocks are not headings.
 */
export function sectionOf(markdown: string, heading: string): string {
  const lines = markdown.split('\n');
  let fenced = false;
  const levels = lines.map((line) => {
    if (line.startsWith('```')) fenced = !fenced;
    return !fenced && /^#+ /.test(line) ? /^#+/.exec(line)![0].length : 0;
  });
  const start = lines.findIndex((line, n) => levels[n]! > 0 && line.replace(/^#+ /, '') === heading);
  if (start < 0) throw new Error(`no section "${heading}"`);
  const end = levels.findIndex((level, n) => n > start && level > 0 && level <= levels[start]!);
  return lines.slice(start + 1, end < 0 ? undefined : end).join('\n');
}

/** The fenced code blocks of a text, in order. */
export function codeBlocksOf(markdown: string): CodeBlock[] {
  return [...markdown.matchAll(/^```(\w*)\n([\s\S]*?)^```$/gm)].map((match) => ({ language: match[1] ?? '', code: match[2] ?? '' }));
}

/**
 * The shell commands of a bash block, as bash would read them: a line ending in `\` or inside
 * an open single-quoted string continues the command; comment lines are dropped.
 */
export function shellCommandsOf(code: string): string[] {
  const commands: string[] = [];
  let current = '';
  for (const line of code.split('\n')) {
    if (!current && (line.trim() === '' || line.trimStart().startsWith('#'))) continue;
    current = current ? `${current}\n${line}` : line;
    const openQuote = (current.match(/'/g)?.length ?? 0) % 2 === 1;
    if (!openQuote && !line.endsWith('\\')) {
      commands.push(current);
      current = '';
    }
  }
  if (current) throw new Error(`unfinished command: ${current}`);
  return commands;
}
