// Placeholder until the generator of COMMANDS.md lands (next commit).
export const COMMANDS_MD = new URL('./COMMANDS.md', import.meta.url);
export function renderCommandsMarkdown(): string {
  return '';
}
