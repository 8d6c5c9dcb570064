/**
 * A toy storage service that honours fencing tokens, as Kleppmann describes: it remembers the largest token it has
 * seen and refuses any write carrying a smaller one. Pure, so the demo's claim rests on tested code.
 */
export class FencedResource {
  private highestToken = 0;
  private current: string | undefined;

  write(fencingToken: number, value: string): { accepted: boolean; highestToken: number } {
    if (fencingToken < this.highestToken) return { accepted: false, highestToken: this.highestToken };
    this.highestToken = fencingToken;
    this.current = value;
    return { accepted: true, highestToken: this.highestToken };
  }

  get value(): string | undefined {
    return this.current;
  }
}
