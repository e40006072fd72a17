/** Generated sections of Markdown files live between an HTML-comment begin and end marker. */

export function replaceBetweenMarkers(text: string, begin: string, end: string, body: string): string {
  const i = text.indexOf(begin);
  const j = text.indexOf(end);
  if (i < 0 || j < i) throw new Error(`markers ${begin} ... ${end} not found`);
  return text.slice(0, i + begin.length) + '\n' + body + text.slice(j);
}

export function sectionBetweenMarkers(text: string, begin: string, end: string): string | undefined {
  const i = text.indexOf(begin);
  const j = text.indexOf(end);
  if (i < 0 || j < i) return undefined;
  return text.slice(i + begin.length + 1, j);
}
