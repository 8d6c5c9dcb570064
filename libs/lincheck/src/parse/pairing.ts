import type { HistoryOperation } from '../history.js';
import { HistoryParseError } from './parse-error.js';

export type Completion = 'ok' | 'fail' | 'info';

/**
 * Pairs Jepsen's invoke and completion events per process into operations. Time is the line number:
 * Jepsen logs carry no clock, but their order is the order events happened in.
 */
export class InvocationPairer {
  readonly operations: HistoryOperation[] = [];
  private readonly open = new Map<number, { op: HistoryOperation; f: string }>();

  invoke(line: number, process: number, f: string, op: HistoryOperation): void {
    if (this.open.has(process)) {
      throw new HistoryParseError(
        line,
        `process ${process} invokes ${f} while its previous operation is open`,
      );
    }
    this.operations.push(op);
    this.open.set(process, { op, f });
  }

  /** Closes the process's open operation; `apply` records what the completion says (e.g. the read value). */
  complete(
    line: number,
    process: number,
    f: string,
    type: Completion,
    apply: (op: HistoryOperation) => void = () => undefined,
  ): void {
    const pending = this.open.get(process);
    if (pending === undefined)
      throw new HistoryParseError(line, `process ${process} completes an operation it never invoked`);
    if (pending.f !== f)
      throw new HistoryParseError(line, `process ${process} invoked ${pending.f} but completes ${f}`);
    this.open.delete(process);
    const { op } = pending;
    if (type === 'info') {
      // Unknown outcome: it may take effect at any time after its call, or never.
      op.return = null;
      op.ok = false;
      return;
    }
    op.return = line;
    op.ok = type === 'ok';
    if (op.ok) apply(op);
  }
}
