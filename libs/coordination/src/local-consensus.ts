import type { Command, CommandResult } from './commands.js';
import type { Consensus } from './consensus.js';
import type { KvStateMachine } from './kv-state-machine.js';

/**
 * A one-node "consensus" that applies each command at once. For tests of everything above consensus
 * (the API, locks, leases); never for production: it has no log, no durability and no replication.
 */
export class LocalConsensus implements Consensus {
  private index = 0;
  private leading = true;
  private readonly listeners: ((leading: boolean) => void)[] = [];

  constructor(private readonly state: KvStateMachine) {}

  async propose(command: Command): Promise<CommandResult> {
    const result = this.state.execute(command);
    this.index += 1;
    if (result === null) throw new Error(`command ${command.type} produced no result`);
    return result;
  }

  async readBarrier(): Promise<void> {}

  isLeader(): boolean {
    return this.leading;
  }

  leaderId(): string | null {
    return this.leading ? 'local' : null;
  }

  onLeadershipChange(listener: (leading: boolean) => void): void {
    this.listeners.push(listener);
  }

  setLeading(leading: boolean): void {
    this.leading = leading;
    for (const l of this.listeners) l(leading);
  }
}
