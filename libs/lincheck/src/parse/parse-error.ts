/** A line of a history file that cannot be read; `line` counts from 1. */
export class HistoryParseError extends Error {
  constructor(
    readonly line: number,
    reason: string,
  ) {
    super(`line ${line}: ${reason}`);
    this.name = 'HistoryParseError';
  }
}
